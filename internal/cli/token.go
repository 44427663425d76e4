package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
)

// The token commands manage the server's bearer tokens: an Owner creates
// tokens with a role on a scope within its own, lists them and revokes
// them. The three commands are small and share their types, so they share
// this file.

func newTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the server's access tokens: create, list, revoke",
		Long: `Manage the bearer tokens of the vnetml server. A token has a role — Owner
(everything, including tokens and locks), Contributor (create, change and
delete resources) or Reader (read and ask Network Watcher) — on a scope: /
(the whole deployment), a subscription or a resource group. Only an Owner
manages tokens, and only within its own scope.

The server stores only a hash of each token: the secret is printed once,
when the token is created.`,
		Args: noArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(newTokenCreateCmd(e), newTokenListCmd(e), newTokenRevokeCmd(e))
	return cmd
}

// tokenCreateCmd is `vnetml token create NAME`.
type tokenCreateCmd struct {
	env         *env
	srv         serverFlags
	out         outputFlag
	role        string
	scope       string
	description string
	expiresIn   string
}

func newTokenCreateCmd(e *env) *cobra.Command {
	c := &tokenCreateCmd{env: e}
	cmd := &cobra.Command{
		Use:   "create NAME --role Owner|Contributor|Reader --scope ID [--description TEXT] [--expires-in DURATION]",
		Short: "Create a token and print its secret, once",
		Long: `Create a token with a role on a scope and print its secret. The secret is
shown only this once: the server keeps a hash of it. Give it to whoever
needs it (they run 'vnetml login --token-file FILE'), or store it in your CI's
secrets.

NAME is 1-64 letters, digits, '-', '_' and '.', starting with a letter or
a digit. --scope is / (the whole deployment), a subscription id
(/subscriptions/ID) or a resource group id; it must lie within the scope
of the token that creates it. --expires-in is a duration such as 12h, 90m
or 30d; without it the token does not expire.`,
		Example: `  # A token for CI that manages one resource group for 30 days
  vnetml token create ci --role Contributor \
      --scope /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mygroup \
      --description "CI pipeline" --expires-in 30d

  # Only the secret, for a script
  vnetml token create auditor --role Reader --scope / -o json | jq -r .properties.secret`,
		Args: nameArg("the name of the token to create"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.Var(text(&c.role, "Owner|Contributor|Reader"), "role", "what the token may do (required)")
	f.Var(text(&c.scope, "ID"), "scope", "where it may do it: /, a subscription id or a resource group id (required)")
	f.Var(text(&c.description, "TEXT"), "description", "what the token is for")
	f.Var(text(&c.expiresIn, "DURATION"), "expires-in", "how long the token works, e.g. 12h, 90m or 30d (default: it does not expire)")
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

// Token roles.
var tokenRoles = []string{"Owner", "Contributor", "Reader"}

// tokenFlags maps the token request's fields to flags.
var tokenFlags = map[string]string{
	"properties.role": "--role", "properties.scope": "--scope", "properties.description": "--description",
	"properties.expiresOn": "--expires-in", "name": "NAME",
}

func (c *tokenCreateCmd) run(ctx context.Context, args []string) error {
	var l armerror.List
	role := ""
	if c.role == "" {
		l.Addf(codeMissingArgument, "--role", "--role is required: %s", strings.Join(tokenRoles, ", "))
	}
	for _, r := range tokenRoles {
		if strings.EqualFold(c.role, r) {
			role = r
		}
	}
	if c.role != "" && role == "" {
		l.Addf(codeInvalidArgument, "--role", "role %q is not one of %s", c.role, strings.Join(tokenRoles, ", "))
	}
	if c.scope == "" {
		l.Addf(codeMissingArgument, "--scope", "--scope is required: / for the whole deployment, /subscriptions/ID, or /subscriptions/ID/resourceGroups/GROUP")
	}
	var expires *time.Time
	if c.expiresIn != "" {
		d, err := parseLifetime(c.expiresIn)
		if err != nil {
			l.Addf(codeInvalidArgument, "--expires-in", "%v", err)
		} else {
			t := time.Now().Add(d).UTC().Truncate(time.Second)
			expires = &t
		}
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, _, err := c.srv.client()
	if err != nil {
		return err
	}
	type props struct {
		Role        string     `json:"role"`
		Scope       string     `json:"scope"`
		Description string     `json:"description,omitempty"`
		ExpiresOn   *time.Time `json:"expiresOn,omitempty"`
	}
	body := struct {
		Properties props `json:"properties"`
	}{props{role, c.scope, c.description, expires}}
	doc, err := cl.Put(ctx, tokensPath+"/"+args[0], body, "")
	if err != nil {
		if a, ok := armerror.As(err); ok {
			return retarget(a, tokenFlags)
		}
		return err
	}
	fmt.Fprintln(c.env.stderr, "vnetml: warning: copy the secret now: the server keeps only its hash, and it is not shown again.")
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	if err := typeTable(tokenType, []json.RawMessage{doc}).write(c.env.stdout); err != nil {
		return err
	}
	var tok struct {
		Properties struct {
			Secret string `json:"secret"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc, &tok); err != nil || tok.Properties.Secret == "" {
		return internalErr(fmt.Errorf("the server's answer holds no secret: %s", doc))
	}
	_, err = fmt.Fprintf(c.env.stdout, "Secret: %s\n", tok.Properties.Secret)
	return internalErr(err)
}

// parseLifetime parses a positive Go duration, or a whole number of days
// written Nd.
func parseLifetime(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration: write e.g. 12h, 90m, 1h30m or 30d", s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 100*365 {
			return 0, bad
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration: a token must work for some time", s)
	}
	return d, nil
}

// nameArg accepts exactly one argument, NAME.
func nameArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageErr(armerror.New(codeMissingArgument, "NAME", "NAME is required: %s", what))
		case len(args) > 1:
			return usageErr(armerror.New(codeInvalidArgument, "", "unexpected argument %q: %s takes one NAME; every other input is a flag",
				args[1], cmd.CommandPath()))
		}
		return nil
	}
}

// tokenListCmd is `vnetml token list`.
type tokenListCmd struct {
	env *env
	srv serverFlags
	out outputFlag
}

func newTokenListCmd(e *env) *cobra.Command {
	c := &tokenListCmd{env: e}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tokens within your token's scope",
		Long: `List the tokens whose scope lies within the scope of your token, without
their secrets (the server does not have them). Only an Owner may list
tokens. The same as 'vnetml get tokens'.`,
		Example: `  vnetml token list
  vnetml token list -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	f := cmd.Flags()
	c.out.register(f)
	c.srv.register(f)
	return cmd
}

func (c *tokenListCmd) run(ctx context.Context, _ []string) error {
	cl, _, err := c.srv.client()
	if err != nil {
		return err
	}
	docs, err := cl.List(ctx, tokensPath)
	if err != nil {
		return err
	}
	if c.out.json() {
		if docs == nil {
			docs = []json.RawMessage{}
		}
		return writeJSON(c.env.stdout, docs)
	}
	return typeTable(tokenType, docs).write(c.env.stdout)
}

// tokenRevokeCmd is `vnetml token revoke NAME`.
type tokenRevokeCmd struct {
	env *env
	srv serverFlags
}

func newTokenRevokeCmd(e *env) *cobra.Command {
	c := &tokenRevokeCmd{env: e}
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: it stops working at once",
		Long: `Revoke a token: from the moment the command returns, the server refuses it
(AuthenticationFailed). An Owner revokes the tokens within its scope, and
anyone may revoke their own token (if it leaked, end it at once). The admin
token cannot be revoked, only rotated by restarting the server with
--rotate-admin-token.`,
		Example: `  vnetml token revoke ci`,
		Args:    nameArg("the name of the token to revoke"),
		RunE:    func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	c.srv.register(cmd.Flags())
	return cmd
}

func (c *tokenRevokeCmd) run(ctx context.Context, args []string) error {
	cl, _, err := c.srv.client()
	if err != nil {
		return err
	}
	if _, err := cl.Delete(ctx, tokensPath+"/"+args[0]); err != nil {
		if a, ok := armerror.As(err); ok {
			return retarget(a, tokenFlags)
		}
		return err
	}
	_, err = fmt.Fprintf(c.env.stdout, "Revoked token %s: it no longer authenticates.\n", args[0])
	return internalErr(err)
}
