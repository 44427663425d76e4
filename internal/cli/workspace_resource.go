package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/network"
)

// The control-plane side of the workspace's resources — workspaces,
// storage accounts, key vaults — shares one shape, az's: `NOUN create NAME
// -g GROUP`, `NOUN show NAME [-g]`, `NOUN list [-g]`, `NOUN delete NAME
// [-g]`. This file holds what those commands share; each command is in
// its own file.

// defaultLocation is the region a create command uses without -l, as the
// examples do.
const defaultLocation = "eastus"

// groupFlag is -g/--resource-group of the workspace resource commands.
func groupFlag(fs *pflag.FlagSet, p *string, required bool) {
	usage := "the resource group (default: look in the whole subscription)"
	if required {
		usage = "the resource group (required)"
	}
	fs.VarP(text(p, "GROUP"), "resource-group", "g", usage)
}

// locationFlag is -l/--location of the create commands.
func locationFlag(fs *pflag.FlagSet, p *string) {
	fs.VarP(text(p, "LOCATION"), "location", "l", "the region (default "+defaultLocation+")")
}

// needGroup is the usage error of a create command without -g.
func needGroup(group, what string) error {
	if group != "" {
		return nil
	}
	return usageErr(armerror.New(codeMissingArgument, "--resource-group", "-g/--resource-group is required: the resource group to create the %s in", what))
}

// findResource returns the id of the resource of type t named name: in
// group when one is given (the server then says whether it exists), else
// the one of that name in the whole subscription.
func findResource(ctx context.Context, cl *client.Client, t *resourceType, sub, group, name string) (string, error) {
	x, err := newTarget(t, name, &typeFlags{group: group}, sub)
	if err != nil {
		return "", err
	}
	id, found, err := x.resolve(ctx, cl)
	if err != nil {
		return "", err
	}
	if !found {
		return "", x.notFound(ctx, cl)
	}
	return id, nil
}

// showResource prints the resource of type t named name: as a table of
// t's columns, or its document with -o json.
func showResource(ctx context.Context, e *env, srv *serverFlags, out *outputFlag, t *resourceType, group, name string) error {
	cl, r, err := srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, t, r.subscription, group, name)
	if err != nil {
		return err
	}
	doc, err := cl.Get(ctx, id)
	if err != nil {
		return err
	}
	if out.json() {
		return writeJSON(e.stdout, doc)
	}
	return typeTable(t, []json.RawMessage{doc}).write(e.stdout)
}

// listResources prints the resources of type t in group, or in the whole
// subscription without one.
func listResources(ctx context.Context, e *env, srv *serverFlags, out *outputFlag, t *resourceType, group string) error {
	cl, r, err := srv.client()
	if err != nil {
		return err
	}
	x, err := newTarget(t, "", &typeFlags{group: group}, r.subscription)
	if err != nil {
		return err
	}
	docs, err := x.list(ctx, cl)
	if err != nil {
		return err
	}
	if out.json() {
		if docs == nil {
			docs = []json.RawMessage{}
		}
		return writeJSON(e.stdout, docs)
	}
	if len(docs) == 0 {
		_, err := fmt.Fprintf(e.stdout, "No %s in %s.\n", t.plural, x.where())
		return internalErr(err)
	}
	return typeTable(t, docs).write(e.stdout)
}

// deleteResource deletes the resource of type t named name; one that
// does not exist is not an error (as az).
func deleteResource(ctx context.Context, e *env, srv *serverFlags, t *resourceType, group, name string) error {
	cl, r, err := srv.client()
	if err != nil {
		return err
	}
	x, err := newTarget(t, name, &typeFlags{group: group}, r.subscription)
	if err != nil {
		return err
	}
	id, found, err := x.resolve(ctx, cl)
	if err != nil {
		return err
	}
	existed := false
	if found {
		if existed, err = cl.Delete(ctx, id); err != nil {
			return err
		}
	}
	shown := name
	if found {
		shown = x.display(id)
	}
	if existed {
		_, err = fmt.Fprintf(e.stdout, "Deleted %s %s\n", t.noun, shown)
	} else {
		_, err = fmt.Fprintf(e.stdout, "%s %s did not exist\n", capitalize(t.noun), shown)
	}
	return internalErr(err)
}

// createOnly puts doc at id only if nothing is there yet; an existing
// resource is a Conflict naming the command that changes it.
func createOnly(ctx context.Context, cl *client.Client, t *resourceType, id string, doc any, instead string) (json.RawMessage, error) {
	resp, err := cl.Do(ctx, http.MethodPut, id, doc, "If-None-Match", "*")
	if a, ok := armerror.As(err); ok && a.Code == "Conflict" && strings.EqualFold(a.Target, id) {
		r, _ := network.ParseResourceID(id)
		return nil, armerror.New("Conflict", "NAME", "%s %s already exists in resource group %s; %s",
			capitalize(t.noun), lastSegment(id), r.ResourceGroup, instead)
	}
	return resp.Body, err
}

// resourceRef turns a flag naming a linked resource into its id: a full
// id as it is, a bare name as the resource of type typ in group.
func resourceRef(sub, group, typ, ref string) string {
	if ref == "" || strings.HasPrefix(ref, "/") {
		return strings.TrimRight(ref, "/")
	}
	return network.MakeID(sub, group, typ, ref)
}

// retargetPrefix renames an error's target (and its details') by the
// longest matching prefix of names: the server's JSON paths become the
// flags that set them.
func retargetPrefix(e *armerror.Error, names map[string]string) *armerror.Error {
	if e == nil {
		return nil
	}
	c := *e
	best := ""
	for p := range names {
		if len(p) > len(best) && strings.HasPrefix(strings.ToLower(e.Target), strings.ToLower(p)) {
			best = p
		}
	}
	if best != "" {
		c.Target = names[best]
	}
	if len(e.Details) > 0 {
		c.Details = make([]*armerror.Error, len(e.Details))
		for i, d := range e.Details {
			c.Details[i] = retargetPrefix(d, names)
		}
	}
	return &c
}

// retargetErr applies retargetPrefix to err when it is an ARM error.
func retargetErr(err error, names map[string]string) error {
	if a, ok := armerror.As(err); ok {
		return retargetPrefix(a, names)
	}
	return err
}
