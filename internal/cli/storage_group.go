package cli

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/network"
)

func newStorageCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Storage accounts, their firewalls and keys, and their blobs (az storage ...)",
		Long: `Manage storage accounts (their firewall, networkAcls, and their keys) and
use their data plane: upload, download, list and delete blobs.

The data-plane commands (storage blob ...) call the account as a client on
the Internet: every connection goes through the vnetml server, from your
client address (--client-address, VNETML_CLIENT_ADDRESS, vnetml login
--client-address, else 203.0.113.10). The account's firewall judges that
address: a refusal is printed with the rule that decided and what would
admit the request.`,
		Args: noArgs,
		RunE: groupRun,
	}
	account := &cobra.Command{
		Use:   "account",
		Short: "Storage accounts and their firewalls (az storage account ...)",
		Args:  noArgs,
		RunE:  groupRun,
	}
	keys := &cobra.Command{
		Use:   "keys",
		Short: "A storage account's access keys (az storage account keys ...)",
		Args:  noArgs,
		RunE:  groupRun,
	}
	keys.AddCommand(newStorageAccountKeysListCmd(e), newStorageAccountKeysRenewCmd(e))
	account.AddCommand(newStorageAccountCreateCmd(e), newStorageAccountUpdateCmd(e), newStorageAccountShowCmd(e),
		newStorageAccountListCmd(e), newStorageAccountDeleteCmd(e), keys)
	blob := &cobra.Command{
		Use:   "blob",
		Short: "Upload, download, list and delete blobs, through the account's firewall (az storage blob ...)",
		Args:  noArgs,
		RunE:  groupRun,
	}
	blob.AddCommand(newStorageBlobUploadCmd(e), newStorageBlobDownloadCmd(e), newStorageBlobListCmd(e), newStorageBlobDeleteCmd(e))
	cmd.AddCommand(account, blob)
	return cmd
}

// blobFlags are the flags every blob command shares: which account and
// container, how to authenticate, and from where.
type blobFlags struct {
	srv       serverFlags
	account   string
	container string
	authMode  string
	fileShare bool
}

func (b *blobFlags) register(f *pflag.FlagSet) {
	f.Var(text(&b.account, "ACCOUNT"), "account-name", "the storage account (required)")
	f.VarP(text(&b.container, "CONTAINER"), "container-name", "c", "the blob container, or the file share with --file-share (required)")
	f.Var(text(&b.authMode, "key|login"), "auth-mode", "key signs requests with the account's key (listKeys); login sends your vnetml token (default key)")
	f.BoolVar(&b.fileShare, "file-share", false, "use the account's file share endpoint (port 445) instead of blob (443)")
	b.srv.register(f)
	b.srv.registerClientAddress(f)
}

// check adds the problems of the shared flags to l.
func (b *blobFlags) check(l *armerror.List) {
	if b.account == "" {
		l.Addf(codeMissingArgument, "--account-name", "--account-name is required: the storage account")
	}
	if b.container == "" {
		l.Addf(codeMissingArgument, "--container-name", "-c/--container-name is required: the blob container (or file share)")
	}
	switch strings.ToLower(b.authMode) {
	case "", "key", "login":
		b.authMode = strings.ToLower(b.authMode)
	default:
		l.Addf(codeInvalidArgument, "--auth-mode", "--auth-mode %q is not key or login", b.authMode)
	}
}

// open finds the account and returns a client of its data plane, calling
// from the configured client address.
func (b *blobFlags) open(ctx context.Context) (*client.Storage, error) {
	cl, r, err := b.srv.client()
	if err != nil {
		return nil, err
	}
	from, err := r.dataPlaneAddress()
	if err != nil {
		return nil, err
	}
	id, err := findAccount(ctx, cl, r.subscription, b.account)
	if err != nil {
		return nil, err
	}
	hc, err := cl.DataPlane(ctx, from.String())
	if err != nil {
		return nil, err
	}
	return cl.Storage(ctx, hc, id, client.StorageOptions{AuthMode: b.authMode, File: b.fileShare})
}

// findAccount returns the id of the storage account named name in the
// subscription (account names are unique, as their host names are).
func findAccount(ctx context.Context, cl *client.Client, sub, name string) (string, error) {
	id, err := findByName(ctx, cl, "/subscriptions/"+sub+"/providers/"+network.TypeStorageAccount, name)
	if err != nil || id != "" {
		return id, err
	}
	return "", armerror.New(codeNotFound, "--account-name", "Storage account %q was not found in subscription %s%s; create it with `vnetml storage account create %s -g GROUP`",
		name, sub, knownNames(ctx, cl, "/subscriptions/"+sub+"/providers/"+network.TypeStorageAccount), name)
}

// findByName returns the id of the item of collection named name, "" if
// none is.
func findByName(ctx context.Context, cl *client.Client, collection, name string) (string, error) {
	docs, err := cl.List(ctx, collection)
	if err != nil {
		return "", err
	}
	for _, d := range docs {
		var h struct{ ID, Name string }
		if json.Unmarshal(d, &h) == nil && strings.EqualFold(h.Name, name) {
			return h.ID, nil
		}
	}
	return "", nil
}

// knownNames is " (known: a, b)" for the names of a collection, or "".
func knownNames(ctx context.Context, cl *client.Client, collection string) string {
	docs, err := cl.List(ctx, collection)
	if err != nil || len(docs) == 0 {
		return ""
	}
	var names []string
	for _, d := range docs {
		var h struct{ Name string }
		if json.Unmarshal(d, &h) == nil {
			names = append(names, h.Name)
		}
	}
	sort.Strings(names)
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}
