package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/network"
)

func newKeyVaultCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keyvault",
		Short: "Key vaults, their firewalls, and their secrets (az keyvault ...)",
		Long: `Manage key vaults (their firewall, networkAcls, and who may use their
secrets) and use their data plane: set, show, list and delete secrets.

The secret commands call the vault as a client on the Internet: every
connection goes through the vnetml server, from your client address
(--client-address, VNETML_CLIENT_ADDRESS, vnetml login --client-address,
else 203.0.113.10), and present your vnetml token. The vault's firewall
judges the address (a refusal is Forbidden, inner error
ForbiddenByFirewall), then its access policies (objectId: a token's name)
or, with --enable-rbac-authorization, the token's role decide.`,
		Args: noArgs,
		RunE: groupRun,
	}
	secret := &cobra.Command{
		Use:   "secret",
		Short: "A key vault's secrets, through its firewall (az keyvault secret ...)",
		Args:  noArgs,
		RunE:  groupRun,
	}
	secret.AddCommand(newKeyVaultSecretSetCmd(e), newKeyVaultSecretShowCmd(e), newKeyVaultSecretListCmd(e), newKeyVaultSecretDeleteCmd(e))
	cmd.AddCommand(newKeyVaultCreateCmd(e), newKeyVaultUpdateCmd(e), newKeyVaultShowCmd(e), newKeyVaultListCmd(e), newKeyVaultDeleteCmd(e), secret)
	return cmd
}

// secretFlags are the flags every secret command shares.
type secretFlags struct {
	srv   serverFlags
	vault string
}

func (s *secretFlags) register(f *pflag.FlagSet) {
	f.Var(text(&s.vault, "VAULT"), "vault-name", "the key vault (required)")
	s.srv.register(f)
	s.srv.registerClientAddress(f)
}

// check adds the problems of the shared flags to l.
func (s *secretFlags) check(l *armerror.List) {
	if s.vault == "" {
		l.Addf(codeMissingArgument, "--vault-name", "--vault-name is required: the key vault")
	}
}

// open finds the vault and returns a client of its secrets, calling from
// the configured client address.
func (s *secretFlags) open(ctx context.Context) (*client.Vault, error) {
	cl, r, err := s.srv.client()
	if err != nil {
		return nil, err
	}
	from, err := r.dataPlaneAddress()
	if err != nil {
		return nil, err
	}
	collection := "/subscriptions/" + r.subscription + "/providers/" + network.TypeKeyVault
	id, err := findByName(ctx, cl, collection, s.vault)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, armerror.New(codeNotFound, "--vault-name", "Key vault %q was not found in subscription %s%s; create it with `vnetml keyvault create %s -g GROUP`",
			s.vault, r.subscription, knownNames(ctx, cl, collection), s.vault)
	}
	hc, err := cl.DataPlane(ctx, from.String())
	if err != nil {
		return nil, err
	}
	return cl.Vault(hc, lastSegment(id)), nil
}

// vaultErr makes a key vault's refusal read as the CLI's other errors do:
// Key Vault's CRLF line breaks become plain ones, and its inner error
// (ForbiddenByFirewall, AccessDenied), which comes without a message,
// says what it means.
func vaultErr(err error) error {
	a, ok := armerror.As(err)
	if !ok {
		return err
	}
	c := *a
	c.Message = strings.ReplaceAll(c.Message, "\r\n", "\n")
	c.Details = nil
	for _, d := range a.Details {
		dc := *d
		if dc.Message == "" {
			switch dc.Code {
			case "ForbiddenByFirewall":
				dc.Message = "the key vault's firewall (networkAcls) refused the request: the client address is not admitted"
			case "AccessDenied":
				dc.Message = "no access policy (or role) of the vault grants the operation to the token"
			default:
				dc.Message = "inner error"
			}
		}
		c.Details = append(c.Details, &dc)
	}
	return &c
}

// secretName is the name in a secret's id:
// https://VAULT.vault.azure.net/secrets/NAME[/VERSION].
func secretName(id string) string {
	_, rest, ok := strings.Cut(id, "/secrets/")
	if !ok {
		return id
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// secretVersion is the version in a secret's id, or "".
func secretVersion(id string) string {
	_, rest, ok := strings.Cut(id, "/secrets/")
	if !ok {
		return ""
	}
	_, v, _ := strings.Cut(rest, "/")
	return v
}
