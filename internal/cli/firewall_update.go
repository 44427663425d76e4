package cli

import (
	"context"

	"github.com/vnetml/vnetml/internal/armerror"
)

// firewallUpdate is what `storage account update` and `keyvault update`
// share: read the resource, change its networkAcls as the flags say (and
// whatever more the command changes), write it back under its etag, and
// print it with its firewall.
type firewallUpdate struct {
	env   *env
	srv   serverFlags
	out   outputFlag
	acl   aclFlags
	group string
}

// update changes resource name of type t. more, if not nil, changes other
// properties; moreGiven says whether its flags were given, and moreFlags
// names them for the "nothing to change" error.
func (c *firewallUpdate) update(ctx context.Context, t *resourceType, name string, moreGiven bool, moreFlags string, more func(props map[string]any)) error {
	var l armerror.List
	if !c.acl.given() && !moreGiven {
		l.Addf(codeMissingArgument, "", "nothing to change: give --default-action, --bypass, --ip-rule, --vnet-rule, "+
			"--add-ip-rule, --remove-ip-rule, --add-vnet-rule, --remove-vnet-rule or %s", moreFlags)
	}
	c.acl.check(&l)
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cl, r, err := c.srv.client()
	if err != nil {
		return err
	}
	id, err := findResource(ctx, cl, t, r.subscription, c.group, name)
	if err != nil {
		return err
	}
	var warnings []string
	doc, err := readModifyWrite(ctx, cl, id, func(props map[string]any) (err error) {
		if more != nil {
			more(props)
		}
		warnings, err = c.acl.updateRuleSet(props)
		return err
	})
	if err != nil {
		return retargetErr(err, aclTargets)
	}
	warn(c.env.stderr, warnings...)
	if c.out.json() {
		return writeJSON(c.env.stdout, doc)
	}
	return printWithFirewall(c.env.stdout, t, doc)
}
