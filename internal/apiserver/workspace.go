package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/auth"
	"github.com/vnetml/vnetml/internal/keyvault"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/store"
)

// ARM types of Azure ML workspaces and what they link (DESIGN.md §6).
const (
	typeWorkspace = "Microsoft.MachineLearningServices/workspaces"
	typeDatastore = typeWorkspace + "/datastores"
	typeRegistry  = "Microsoft.ContainerRegistry/registries"
	// typeRegistryCredentials holds a registry's admin passwords, sealed
	// as storage account keys are.
	typeRegistryCredentials = typeRegistry + "/credentials"
	sealRegistryPassword    = "registry/password"
)

// The default datastores every workspace registers (SDK v1's names).
const (
	DatastoreBlob = "workspaceblobstore"
	DatastoreFile = "workspacefilestore"
)

type workspaceDoc struct {
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	Type     string            `json:"type,omitempty"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags,omitempty"`
	Etag     string            `json:"etag,omitempty"`
	Identity *struct {
		Type        string `json:"type,omitempty"`
		PrincipalID string `json:"principalId,omitempty"`
		TenantID    string `json:"tenantId,omitempty"`
	} `json:"identity,omitempty"`
	SKU *struct {
		Name string `json:"name,omitempty"`
		Tier string `json:"tier,omitempty"`
	} `json:"sku,omitempty"`
	Properties workspaceProps `json:"properties"`
}

type workspaceProps struct {
	FriendlyName        string `json:"friendlyName,omitempty"`
	Description         string `json:"description,omitempty"`
	StorageAccount      string `json:"storageAccount,omitempty"`
	KeyVault            string `json:"keyVault,omitempty"`
	ContainerRegistry   string `json:"containerRegistry,omitempty"`
	ApplicationInsights string `json:"applicationInsights,omitempty"`
	HbiWorkspace        bool   `json:"hbiWorkspace,omitempty"`
	ImageBuildCompute   string `json:"imageBuildCompute,omitempty"`
	PublicNetworkAccess string `json:"publicNetworkAccess,omitempty"`
	WorkspaceID         string `json:"workspaceId,omitempty"`
	DiscoveryURL        string `json:"discoveryUrl,omitempty"`
	ProvisioningState   string `json:"provisioningState,omitempty"`
}

// datastoreDoc is a registered datastore: where its data is and which
// secret of the workspace's key vault holds its credential. The
// credential itself is never in the document.
type datastoreDoc struct {
	ID         string         `json:"id,omitempty"`
	Name       string         `json:"name,omitempty"`
	Type       string         `json:"type,omitempty"`
	Etag       string         `json:"etag,omitempty"`
	Properties datastoreProps `json:"properties"`
}

type datastoreProps struct {
	DatastoreType  string               `json:"datastoreType"` // AzureBlob or AzureFile
	AccountName    string               `json:"accountName"`
	StorageAccount string               `json:"storageAccount,omitempty"` // its id, computed
	ContainerName  string               `json:"containerName,omitempty"`
	ShareName      string               `json:"shareName,omitempty"`
	Endpoint       string               `json:"endpoint,omitempty"`
	Protocol       string               `json:"protocol,omitempty"`
	IsDefault      bool                 `json:"isDefault,omitempty"`
	Credentials    datastoreCredentials `json:"credentials"`
	// Warnings are the 2019 article's constraints this datastore runs
	// into (see datastoreWarnings); computed.
	Warnings []finding `json:"warnings,omitempty"`
}

type datastoreCredentials struct {
	CredentialsType string `json:"credentialsType"` // AccountKey
	// SecretName is the secret of KeyVault that holds the account key.
	SecretName string `json:"secretName,omitempty"`
	KeyVault   string `json:"keyVault,omitempty"`
}

// finding is one diagnosis: the diagnose API's {code, level, message}.
type finding struct {
	Code    string `json:"code"`
	Level   string `json:"level"` // Error, Warning or Information
	Message string `json:"message"`
}

type registryDoc struct {
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	Type     string            `json:"type,omitempty"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags,omitempty"`
	Etag     string            `json:"etag,omitempty"`
	SKU      *struct {
		Name string `json:"name"`
	} `json:"sku,omitempty"`
	Properties struct {
		AdminUserEnabled  bool   `json:"adminUserEnabled"`
		LoginServer       string `json:"loginServer,omitempty"`
		ProvisioningState string `json:"provisioningState,omitempty"`
	} `json:"properties"`
}

var (
	workspaceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$`)
	registryNameRE  = regexp.MustCompile(`^[A-Za-z0-9]{5,50}$`)
	datastoreNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,255}$`)
)

// stageWorkspace stages a workspace and, on creation, what it needs: the
// storage account, key vault and container registry it names (which must
// exist, in its subscription and region) or new ones in its group, and the
// datastores workspaceblobstore and workspacefilestore. The credentials go
// into the key vault once the write is committed (see workspaceSecrets).
func (s *Server) stageWorkspace(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	var d workspaceDoc
	id, cur, err := decodePut(t, id, body, patch, &d, func() (string, string) { return d.Name, d.Type })
	if err != nil {
		return false, err
	}
	name := lastSegment(id.ID)
	if !workspaceNameRE.MatchString(name) {
		return false, armerror.New(codeInvalidParameter, "name",
			"The workspace name %q is invalid: 3-33 characters of letters, digits, '-' and '_', starting with a letter or digit.", name)
	}
	d.Location = normLocation(d.Location)
	if d.Location == "" {
		return false, armerror.New(codeLocationRequired, "location", "The location property is required: a workspace lives in one region, with its storage account, key vault and compute.")
	}
	var old workspaceDoc
	if cur != nil {
		_ = json.Unmarshal(cur.res.Doc, &old)
		if old.Location != d.Location {
			return false, armerror.New(codeInvalidLocation, "location", "Workspace %s is in %s and cannot move to %s.", name, old.Location, d.Location)
		}
		for _, f := range []struct{ target, was, now string }{
			{"properties.storageAccount", old.Properties.StorageAccount, d.Properties.StorageAccount},
			{"properties.keyVault", old.Properties.KeyVault, d.Properties.KeyVault},
			{"properties.containerRegistry", old.Properties.ContainerRegistry, d.Properties.ContainerRegistry},
		} {
			if f.now == "" {
				continue
			}
			if !network.SameID(f.was, f.now) {
				return false, armerror.New(codeInvalidParameter, f.target,
					"%s of workspace %s is %s and cannot be changed; create a new workspace to use another.", f.target, name, f.was)
			}
		}
		d.Properties.StorageAccount, d.Properties.KeyVault = old.Properties.StorageAccount, old.Properties.KeyVault
		d.Properties.ContainerRegistry = old.Properties.ContainerRegistry
		d.Properties.WorkspaceID = old.Properties.WorkspaceID
	}
	if err := t.checkParents(id); err != nil {
		return false, err
	}
	d.ID, d.Name, d.Type, d.Etag = id.ID, name, typeWorkspace, ""
	if cur == nil {
		d.Properties.WorkspaceID = newGUID() // the server's to give, never the client's
	}
	if d.Properties.FriendlyName == "" {
		d.Properties.FriendlyName = name
	}
	if d.SKU == nil {
		d.SKU = &struct {
			Name string `json:"name,omitempty"`
			Tier string `json:"tier,omitempty"`
		}{Name: "Basic", Tier: "Basic"}
	}
	d.Properties.DiscoveryURL = "https://" + d.Location + ".api.azureml.ms/discovery"
	d.Properties.ProvisioningState = succeeded
	group := "/subscriptions/" + id.Subscription + "/resourceGroups/" + id.ResourceGroup
	suffix := strings.ReplaceAll(d.Properties.WorkspaceID, "-", "")[:8]
	if cur == nil {
		if d.Properties.StorageAccount, err = s.linkOrCreate(t, "properties.storageAccount", d.Properties.StorageAccount, network.TypeStorageAccount,
			group+"/providers/"+network.TypeStorageAccount+"/"+compact(name, 16)+suffix, d.Location,
			`{"location": %q, "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "properties": {}}`, id); err != nil {
			return false, err
		}
		policy := fmt.Sprintf(`[{"tenantId": %q, "objectId": %q, "permissions": {"secrets": ["all"]}}]`, defaultTenant, t.who.TokenID)
		if d.Properties.KeyVault, err = s.linkOrCreate(t, "properties.keyVault", d.Properties.KeyVault, network.TypeKeyVault,
			group+"/providers/"+network.TypeKeyVault+"/"+compact(name, 14)+"kv"+suffix, d.Location,
			`{"location": %q, "properties": {"tenantId": "`+defaultTenant+`", "sku": {"family": "A", "name": "standard"}, "accessPolicies": `+policy+`}}`, id); err != nil {
			return false, err
		}
		if d.Properties.ContainerRegistry, err = s.linkOrCreate(t, "properties.containerRegistry", d.Properties.ContainerRegistry, typeRegistry,
			group+"/providers/"+typeRegistry+"/"+compact(name, 40)+suffix, d.Location,
			`{"location": %q, "sku": {"name": "Basic"}, "properties": {"adminUserEnabled": true}}`, id); err != nil {
			return false, err
		}
	}
	existed, err := t.stagePlain(id, d, cond, true)
	if err != nil {
		return false, err
	}
	if cur == nil {
		if err := s.stageDefaultDatastores(t, id, &d); err != nil {
			return false, err
		}
	}
	t.afterCommit(func(ctx context.Context) error { return s.workspaceSecrets(ctx, d) })
	return existed, nil
}

// compact keeps the letters and digits of name, lower-cased, at most n.
func compact(name string, n int) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if ('a' <= c && c <= 'z' || '0' <= c && c <= '9') && b.Len() < n {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		b.WriteString("ws")
	}
	return b.String()
}

// linkOrCreate checks the resource a workspace names (it must exist, be
// of typ, and be in the workspace's subscription and region) or, when it
// names none, stages a new one at newID with the body format (its one %q
// is the location). It returns the resource's id.
func (s *Server) linkOrCreate(t *txn, target, ref, typ, newID, loc, format string, ws store.ID) (string, error) {
	if ref == "" {
		id, err := store.ParseID(newID)
		if err != nil {
			return "", err
		}
		k := s.kindOf(typ)
		if _, err := k.stage(t, id, []byte(fmt.Sprintf(format, loc)), store.Condition{}, false); err != nil {
			return "", fmt.Errorf("creating the workspace's %s: %w", lastSegment(typ), err)
		}
		return t.get(id.Key).id.ID, nil
	}
	id, err := store.ParseID(ref)
	if err != nil || !strings.EqualFold(id.Type, typ) {
		return "", armerror.New(network.CodeInvalidResourceReference, target, "%s must be the id of a %s, not %q.", target, typ, ref)
	}
	e := t.get(id.Key)
	if e == nil {
		return "", armerror.New(network.CodeInvalidResourceReference, target, "%s %s does not exist; create it first, or leave %s out and the workspace creates one.", lastSegment(typ), ref, target)
	}
	if !strings.EqualFold(id.Subscription, ws.Subscription) {
		return "", armerror.New(network.CodeInvalidResourceReference, target, "%s is in subscription %s; a workspace's resources must be in its own subscription %s.", ref, id.Subscription, ws.Subscription)
	}
	if e.loc != "" && e.loc != loc {
		return "", armerror.New(network.CodeInvalidResourceReference, target, "%s is in %s; a workspace's resources must be in its region %s.", ref, e.loc, loc)
	}
	// Linking hands the workspace the resource's credentials (the account
	// key, the registry password) or writes into it (the vault): the
	// caller must be allowed to change it.
	if err := auth.Authorize(t.who, auth.Write, e.id.ID); err != nil {
		return "", armerror.New(codeAuthorization, target, "Linking %s to a workspace gives the workspace its credentials, so it needs write access to it: %v", lastSegment(e.id.ID), err)
	}
	return e.id.ID, nil
}

// stageDefaultDatastores registers workspaceblobstore (a blob container)
// and workspacefilestore (a file share) on the workspace's storage account.
func (s *Server) stageDefaultDatastores(t *txn, ws store.ID, d *workspaceDoc) error {
	account := lastSegment(d.Properties.StorageAccount)
	for _, ds := range []datastoreDoc{
		{Name: DatastoreBlob, Properties: datastoreProps{DatastoreType: "AzureBlob", ContainerName: "azureml-blobstore-" + d.Properties.WorkspaceID}},
		{Name: DatastoreFile, Properties: datastoreProps{DatastoreType: "AzureFile", ShareName: "azureml-filestore-" + d.Properties.WorkspaceID}},
	} {
		id, err := store.ParseID(ws.ID + "/datastores/" + ds.Name)
		if err != nil {
			return err
		}
		ds.ID, ds.Type = id.ID, typeDatastore
		ds.Properties.AccountName = account
		ds.Properties.StorageAccount = d.Properties.StorageAccount
		ds.Properties.Endpoint, ds.Properties.Protocol = "core.windows.net", "https"
		ds.Properties.IsDefault = ds.Name == DatastoreBlob
		ds.Properties.Credentials = datastoreCredentials{CredentialsType: "AccountKey", SecretName: accountKeySecret(account), KeyVault: d.Properties.KeyVault}
		if _, err := t.stagePlain(id, ds, store.Condition{}, false); err != nil {
			return err
		}
	}
	return nil
}

// defaultTenant is the tenant id of every vnetml deployment.
const defaultTenant = "00000000-0000-0000-0000-000000000000"

// Secret names in a workspace's key vault.
func accountKeySecret(account string) string { return "storage-" + account + "-key" }
func connectionStringSecret(account string) string {
	return "storage-" + account + "-connection-string"
}
func registryPasswordSecret(registry string) string {
	return "acr-" + strings.ToLower(registry) + "-password"
}

// workspaceSecrets puts the workspace's credentials into its key vault:
// the storage account's key and connection string and the registry's
// password, each only when the vault does not hold that value already.
func (s *Server) workspaceSecrets(ctx context.Context, d workspaceDoc) error {
	if s.secrets == nil || s.keyring == nil {
		return nil
	}
	vault := d.Properties.KeyVault
	want := map[string]string{}
	failed := func(what string, err error) error {
		return armerror.New(codeInternal, "", "Workspace %s was saved, but %s could not be read for its key vault (%v); PUT the workspace again to retry.", d.Name, what, err)
	}
	if a := d.Properties.StorageAccount; a != "" {
		keys, err := s.AccountKeys(ctx, a)
		if err != nil {
			return failed("the key of storage account "+lastSegment(a), err)
		}
		name, key := lastSegment(a), base64.StdEncoding.EncodeToString(keys[0])
		want[accountKeySecret(name)] = key
		want[connectionStringSecret(name)] = "DefaultEndpointsProtocol=https;AccountName=" + name + ";AccountKey=" + key + ";EndpointSuffix=core.windows.net"
	}
	if r := d.Properties.ContainerRegistry; r != "" {
		pw, err := s.registryPasswords(r)
		if err != nil {
			return failed("the password of registry "+lastSegment(r), err)
		}
		want[registryPasswordSecret(lastSegment(r))] = string(pw[0])
	}
	for name, value := range want {
		b, err := s.secrets.Get(ctx, vault, name, "")
		if err == nil && string(b.Value) == value {
			continue
		}
		if _, err := s.secrets.Set(ctx, vault, name, []byte(value), keyvault.SetOptions{}); err != nil {
			return armerror.New(codeInternal, "", "Workspace %s was saved, but its credential %s could not be put into key vault %s (%v); PUT the workspace again to retry.",
				d.Name, name, lastSegment(vault), err)
		}
	}
	return nil
}

// stageRegistry stages a container registry: a name of 5-50 letters and
// digits, unique in the deployment (its login server is a host name), a
// SKU, and admin passwords sealed beside it on creation.
func (s *Server) stageRegistry(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	var d registryDoc
	id, _, err := decodePut(t, id, body, patch, &d, func() (string, string) { return d.Name, d.Type })
	if err != nil {
		return false, err
	}
	name := lastSegment(id.ID)
	if !registryNameRE.MatchString(name) {
		return false, armerror.New("InvalidRegistryName", "name", "The registry name %q is invalid: 5-50 letters and digits.", name)
	}
	if err := t.uniqueName(id.ID, name, typeRegistry, "RegistryNameNotAvailable",
		"The registry %s is already in use (%s): registry names are global, as their login servers are."); err != nil {
		return false, err
	}
	d.Location = normLocation(d.Location)
	if d.Location == "" {
		return false, armerror.New(codeLocationRequired, "location", "The location property is required for a container registry.")
	}
	if d.SKU == nil {
		d.SKU = &struct {
			Name string `json:"name"`
		}{Name: "Basic"}
	}
	switch strings.ToLower(d.SKU.Name) {
	case "basic", "standard", "premium":
	default:
		return false, armerror.New(codeInvalidParameter, "sku.name", "The registry SKU %q is not one of Basic, Standard, Premium.", d.SKU.Name)
	}
	if err := t.checkParents(id); err != nil {
		return false, err
	}
	d.ID, d.Name, d.Type, d.Etag = id.ID, name, typeRegistry, ""
	d.Properties.LoginServer = strings.ToLower(name) + ".azurecr.io"
	d.Properties.ProvisioningState = succeeded
	existed, err := t.stagePlain(id, d, cond, true)
	if err != nil {
		return false, err
	}
	if !existed {
		if err := t.putSealed(id.ID+"/credentials/default", sealRegistryPassword, id.ID, "password", "password2"); err != nil {
			return false, err
		}
	}
	return existed, nil
}

// putSealed stages fresh random values named names, sealed for owner, at
// docID (a registry's passwords).
func (t *txn) putSealed(docID, purpose, owner string, names ...string) error {
	values := map[string][]byte{}
	for _, n := range names {
		v := make([]byte, 24)
		rand.Read(v)
		values[n] = []byte(base64.RawURLEncoding.EncodeToString(v))
	}
	return t.putSealedValues(docID, purpose, owner, values)
}

// registryPasswords returns a registry's admin passwords.
func (s *Server) registryPasswords(registryID string) ([][]byte, error) {
	return s.openSealed(registryID+"/credentials/default", sealRegistryPassword, registryID,
		armerror.New(codeNotFound, "", "Registry %s has no credentials.", lastSegment(registryID)))
}

// stageDatastore registers a datastore the user names: a blob container or
// file share of a storage account in the workspace's subscription. Its
// credential (the account key) goes into the workspace's key vault; the
// 2019 article's constraints it runs into are in properties.warnings.
func (s *Server) stageDatastore(t *txn, id store.ID, body []byte, cond store.Condition, patch bool) (bool, error) {
	id = t.canonical(id)
	cur := t.get(id.Key)
	body, err := patched(cur, body, patch, func() error { return notFound(store.NotFound(id.ID), id) })
	if err != nil {
		return false, err
	}
	var d datastoreDoc
	if err := decodeBody(body, &d); err != nil {
		return false, err
	}
	name := lastSegment(id.ID)
	if !datastoreNameRE.MatchString(name) {
		return false, armerror.New(codeInvalidParameter, "name", "The datastore name %q is invalid: letters, digits and '_' only.", name)
	}
	if strings.EqualFold(name, DatastoreBlob) || strings.EqualFold(name, DatastoreFile) {
		if cur != nil {
			return false, armerror.New(codeInvalidParameter, "name", "%s is a workspace's default datastore, which the workspace manages.", name)
		}
	}
	ws := t.get(lower(id.Parent))
	if ws == nil {
		return false, parentMissing(id)
	}
	var w workspaceDoc
	_ = json.Unmarshal(ws.res.Doc, &w)
	p := &d.Properties
	switch p.DatastoreType {
	case "AzureBlob":
		if p.ContainerName == "" {
			return false, armerror.New(codeInvalidParameter, "properties.containerName", "An AzureBlob datastore needs containerName.")
		}
		p.ShareName = ""
	case "AzureFile":
		if p.ShareName == "" {
			return false, armerror.New(codeInvalidParameter, "properties.shareName", "An AzureFile datastore needs shareName.")
		}
		p.ContainerName = ""
	default:
		return false, armerror.New(codeInvalidParameter, "properties.datastoreType", "datastoreType must be AzureBlob or AzureFile, not %q.", p.DatastoreType)
	}
	var acct *network.StorageAccount
	t.each(func(e *entry) {
		if a, ok := e.obj.(*network.StorageAccount); ok && strings.EqualFold(a.Name, p.AccountName) && strings.EqualFold(e.id.Subscription, id.Subscription) {
			acct = a
		}
	})
	if acct == nil {
		return false, armerror.New(network.CodeInvalidResourceReference, "properties.accountName", "Storage account %q does not exist in subscription %s.", p.AccountName, id.Subscription)
	}
	// The account's key goes into the workspace's vault: only a caller
	// who may list that key may register the datastore.
	if err := auth.Authorize(t.who, auth.Write, acct.ID); err != nil {
		return false, armerror.New(codeAuthorization, "properties.accountName",
			"Registering a datastore on storage account %s puts its key into the workspace's key vault, so it needs what listKeys needs: %v", acct.Name, err)
	}
	p.AccountName, p.StorageAccount = acct.Name, acct.ID
	p.Endpoint, p.Protocol, p.IsDefault = "core.windows.net", "https", false
	p.Credentials = datastoreCredentials{CredentialsType: "AccountKey", SecretName: accountKeySecret(acct.Name), KeyVault: w.Properties.KeyVault}
	p.Warnings = datastoreWarnings(name, acct, network.SameID(acct.ID, w.Properties.StorageAccount))
	d.ID, d.Name, d.Type, d.Etag = id.ID, name, typeDatastore, ""
	existed, err := t.stagePlain(id, d, cond, true)
	if err != nil {
		return false, err
	}
	t.afterCommit(func(ctx context.Context) error {
		w.Properties.StorageAccount = acct.ID // the key of this datastore's account
		w.Properties.ContainerRegistry = ""
		return s.workspaceSecrets(ctx, w)
	})
	return existed, nil
}

// datastoreWarnings are the 2019 article's constraints a datastore on acct
// runs into: a storage account restricted to virtual networks could, in
// July 2019, serve only as the workspace's default storage during
// experimentation; the August revision allowed other datastores
// (grant_workspace_access, SDK 1.0.53) but the workspace must reach them
// as a trusted service.
func datastoreWarnings(name string, acct *network.StorageAccount, isDefaultAccount bool) []finding {
	acl := acct.Properties.NetworkAcls
	if acl == nil || !strings.EqualFold(acl.DefaultAction, "Deny") || isDefaultAccount {
		return nil
	}
	out := []finding{{Code: "StorageAccountInVirtualNetwork", Level: "Warning", Message: fmt.Sprintf(
		"Datastore %s is on storage account %s, whose firewall denies by default (networkAcls.defaultAction Deny). "+
			"The 2019 article allowed only the workspace's default storage account behind a virtual network for experiments (relaxed in August 2019): "+
			"runs and inference using this datastore need the account to admit the compute's subnet, and the workspace as a trusted service.", name, acct.Name)}}
	if !strings.Contains(strings.ToLower(acl.Bypass), "azureservices") {
		out = append(out, finding{Code: "TrustedServicesNotAllowed", Level: "Warning", Message: fmt.Sprintf(
			"Storage account %s does not allow trusted Microsoft services (networkAcls.bypass lacks AzureServices): the workspace cannot reach it; add AzureServices to bypass.", acct.Name)})
	}
	return out
}

// listDatastores lists a workspace's datastores.
func (s *Server) listDatastores(ctx context.Context, rq *request) (response, error) {
	return s.listStored(ctx, rq, store.ListOptions{Parent: rq.target.id.ID, Type: typeDatastore})
}

// deleteDatastore deletes a datastore the user registered; the default
// ones go with their workspace.
func (s *Server) deleteDatastore(ctx context.Context, rq *request) (response, error) {
	name := lastSegment(rq.target.id.ID)
	if strings.EqualFold(name, DatastoreBlob) || strings.EqualFold(name, DatastoreFile) {
		return response{}, armerror.New(codeInvalidParameter, "name", "%s is a workspace's default datastore; it is deleted with the workspace.", name)
	}
	return s.deletePlain(ctx, rq)
}

// decodePut readies a PUT or PATCH of a document stored as it is, in a
// resource group: it returns the canonical id and the current version, and
// decodes the body — merged into the current document for a PATCH —
// strictly into d, whose name and type (nameType) must agree with id.
func decodePut(t *txn, id store.ID, body []byte, patch bool, d any, nameType func() (string, string)) (store.ID, *entry, error) {
	if err := inGroup(id); err != nil {
		return id, nil, err
	}
	id = t.canonical(id)
	cur := t.get(id.Key)
	body, err := patched(cur, body, patch, func() error { return notFound(store.NotFound(id.ID), id) })
	if err != nil {
		return id, cur, err
	}
	if err := decodeBody(body, d); err != nil {
		return id, cur, err
	}
	name, typ := nameType()
	return id, cur, checkName(id, name, typ)
}

// deleteWorkspace deletes a workspace with its datastores (not what it
// links); one that still has computes is refused, since their nodes run
// in the virtual network until they are deleted (or, attached, detached).
func (s *Server) deleteWorkspace(ctx context.Context, rq *request) (response, error) {
	return s.deleteStored(ctx, rq, true, func(t *txn, cur *entry) error {
		var computes, attached []string
		t.each(func(e *entry) {
			if strings.EqualFold(e.id.Type, typeCompute) && strings.EqualFold(e.id.Parent, cur.id.ID) {
				if isAttached(e) {
					attached = append(attached, lastSegment(e.id.ID))
				} else {
					computes = append(computes, lastSegment(e.id.ID))
				}
			}
		})
		if len(computes)+len(attached) > 0 {
			// An attached compute is not deleted (compute delete refuses
			// it) but detached, which leaves its managed cluster running.
			sort.Strings(computes)
			sort.Strings(attached)
			ws := lastSegment(cur.id.ID)
			// One compute is named in the command, more are NAME.
			name := func(names []string) string {
				if len(names) == 1 {
					return names[0]
				}
				return "NAME"
			}
			var fixes []string
			if len(computes) > 0 {
				fixes = append(fixes, fmt.Sprintf("delete %s (vnetml compute delete %s -w %s), which stops the nodes and removes the network resources",
					strings.Join(computes, ", "), name(computes), ws))
			}
			if len(attached) > 0 {
				fixes = append(fixes, fmt.Sprintf("detach %s (vnetml compute detach %s -w %s), which removes the front end and web services and leaves the managed cluster running",
					strings.Join(attached, ", "), name(attached), ws))
			}
			all := append(append([]string{}, computes...), attached...)
			sort.Strings(all)
			return armerror.New(store.CodeConflict, "", "Workspace %s still has computes (%s); remove them first: %s.",
				cur.id.ID, strings.Join(all, ", "), strings.Join(fixes, "; "))
		}
		if s.runs != nil {
			// Its experiments and runs go with it (none runs: its
			// computes are gone).
			id := cur.id.ID
			t.afterCommit(func(ctx context.Context) error { return s.runs.DeleteWorkspace(ctx, id) })
		}
		return nil
	})
}
