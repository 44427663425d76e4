package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/network"
	"github.com/vnetml/vnetml/internal/servicetag"
)

// stdinName is how errors name resources read from standard input.
const stdinName = "<stdin>"

// resourceFlags are the inputs every network command reads: resource files
// and a service tag file.
type resourceFlags struct {
	files       []string
	serviceTags string
}

func (r *resourceFlags) register(f *pflag.FlagSet) {
	f.Var(&listFlag{&r.files, "FILE"}, "resources",
		"resource JSON to check (required; repeat the flag for more files): one resource, an array, {\"value\": [...]} "+
			"or an ARM template with literal values; a directory reads every *.json file in it; - reads stdin")
	f.Var(text(&r.serviceTags, "FILE"), "service-tags",
		"service tags in the format of Azure's ServiceTags_Public.json (default: vnetml's built-in local cloud)")
}

// check records missing flags in l.
func (r *resourceFlags) check(l *armerror.List) {
	if len(r.files) == 0 {
		l.Addf(codeMissingArgument, "--resources",
			"--resources is required: give the resource JSON files to check (az ... show -o json output, list responses or ARM templates)")
	}
}

// load reads the service tags and every resource file, validates the
// resources and compiles the flow engine. Every error of every file is
// reported at once, each naming its file. Engine warnings go to stderr.
func (r *resourceFlags) load(ctx context.Context, e *env) (*flow.Engine, error) {
	var l armerror.List
	if r.check(&l); l.Len() > 0 {
		return nil, usageErr(l.In("the command line"))
	}
	tags, err := r.loadTags(e)
	if err != nil {
		return nil, err
	}
	files, err := r.expand()
	if err != nil {
		return nil, err
	}

	var (
		snap     network.Snapshot
		errs     armerror.List
		org      origins
		children = make([][]network.Child, len(files))
	)
	for i, name := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		before := collectionLens(&snap)
		if err := decodeFile(&snap, name, e.stdin); err != nil {
			addAll(&errs, err)
		}
		org.record(sourceName(name), before, &snap)
		children[i], snap.Children = snap.Children, nil
	}
	if errs.Len() > 0 {
		// Validation of a half-read snapshot would only add noise.
		return nil, errs.In("the resources")
	}
	// Merge standalone child resources file by file, so that a child whose
	// parent is missing is reported against its own file.
	for i, name := range files {
		for _, c := range children[i] {
			org.addChild(c, sourceName(name))
		}
		snap.Children = children[i]
		if err := snap.Finish(); err != nil {
			for _, x := range flatten(err) {
				errs.Add(inFile(sourceName(name), x))
			}
		}
	}
	if errs.Len() > 0 {
		return nil, errs.In("the resources")
	}
	if err := snap.Validate(tags); err != nil {
		for _, x := range flatten(err) {
			errs.Add(org.locate(&snap, x))
		}
		return nil, errs.In("the resources")
	}
	eng := flow.Compile(&snap, tags)
	for _, w := range eng.Warnings() {
		fmt.Fprintf(e.stderr, "vnetml: warning: %v\n", w)
	}
	return eng, nil
}

// loadTags reads --service-tags, or returns the built-in local cloud.
func (r *resourceFlags) loadTags(e *env) (*servicetag.Registry, error) {
	if r.serviceTags == "" {
		return servicetag.LocalCloud(), nil
	}
	name := r.serviceTags
	var in io.Reader = e.stdin
	if name == "-" {
		name = stdinName
		if slices.Contains(r.files, "-") {
			return nil, usageErr(armerror.New(codeInvalidArgument, "--service-tags", "--service-tags and --resources cannot both read stdin"))
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, usageErr(armerror.New(codeInvalidArgument, "--service-tags", "cannot read service tag file: %v", err))
		}
		defer f.Close()
		in = f
	}
	reg, err := servicetag.Load(in)
	if err != nil {
		var l armerror.List
		for _, x := range flatten(err) {
			l.Add(inFile(name, x))
		}
		return nil, l.In("the service tag file")
	}
	return reg, nil
}

// expand resolves the --resources values: a directory stands for its *.json
// files in name order; - (stdin) may be given once.
func (r *resourceFlags) expand() ([]string, error) {
	var out []string
	stdin := false
	for _, name := range r.files {
		if name == "-" {
			if stdin {
				return nil, usageErr(armerror.New(codeInvalidArgument, "--resources", "stdin (-) can be read only once"))
			}
			stdin = true
			out = append(out, name)
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return nil, usageErr(armerror.New(codeInvalidArgument, "--resources", "cannot read resource file: %v", err))
		}
		if !st.IsDir() {
			out = append(out, name)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(name, "*.json"))
		if err != nil {
			return nil, internalErr(err)
		}
		if len(matches) == 0 {
			return nil, usageErr(armerror.New(codeInvalidArgument, "--resources", "directory %s holds no *.json files", name))
		}
		slices.Sort(matches)
		out = append(out, matches...)
	}
	return out, nil
}

// sourceName is how errors name a --resources value.
func sourceName(name string) string {
	if name == "-" {
		return stdinName
	}
	return name
}

// decodeFile decodes one file (or stdin, for "-") into snap.
func decodeFile(snap *network.Snapshot, name string, stdin io.Reader) error {
	if name == "-" {
		return snap.Decode(stdinName, stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return usageErr(armerror.New(codeInvalidArgument, "--resources", "cannot read resource file: %v", err))
	}
	defer f.Close()
	return snap.Decode(name, f)
}

// flatten lists the errors of err: the details of a multi-error, or err.
func flatten(err error) []*armerror.Error {
	a, ok := armerror.As(err)
	if !ok {
		return []*armerror.Error{armerror.New("InvalidRequestContent", "", "%v", err)}
	}
	if a.Code == "InvalidRequestContent" && len(a.Details) > 0 {
		return a.Details
	}
	return []*armerror.Error{a}
}

func addAll(l *armerror.List, err error) {
	for _, x := range flatten(err) {
		l.Add(x)
	}
}

// inFile roots e's target (and its details') at a file: "file:target", or
// the file alone for the whole document — the form network.Snapshot.Decode
// uses.
func inFile(file string, e *armerror.Error) *armerror.Error {
	c := *e
	c.Target = file
	if e.Target != "" {
		c.Target += ":" + e.Target
	}
	if len(e.Details) > 0 {
		c.Details = make([]*armerror.Error, len(e.Details))
		for i, d := range e.Details {
			c.Details[i] = inFile(file, d)
		}
	}
	return &c
}

// origins remembers which file each top-level resource came from, so that
// validation errors — whose targets are rooted at the snapshot, as in
// "networkSecurityGroups[ml-nsg].properties.securityRules[2]" — can name
// the file to fix. A child resource read on its own (a subnet, a security
// rule, a route) is attributed to its own file.
type origins struct {
	spans    map[string][]span // by collection (the Snapshot field's JSON name)
	children []childOrigin
}

// span says that a file's resources occupy [start, end) of a collection.
type span struct {
	file       string
	start, end int
}

// childOrigin is a standalone child resource read from file and merged into
// the resource parentID.
type childOrigin struct {
	parentID string
	name     string
	file     string
}

func (o *origins) addChild(c network.Child, file string) {
	var h struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(c.Raw, &h) // Decode has read it already
	name := h.Name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:] // a template's parent/child name
	}
	o.children = append(o.children, childOrigin{parentID: c.ParentID, name: name, file: file})
}

// collections lists the resource slices of a snapshot by their JSON names.
func collections(s *network.Snapshot) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	v := reflect.ValueOf(s).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" || f.Type.Kind() != reflect.Slice {
			continue
		}
		out[name] = v.Field(i)
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func collectionLens(s *network.Snapshot) map[string]int {
	out := map[string]int{}
	for name, v := range collections(s) {
		out[name] = v.Len()
	}
	return out
}

func (o *origins) record(file string, before map[string]int, s *network.Snapshot) {
	if o.spans == nil {
		o.spans = map[string][]span{}
	}
	for name, v := range collections(s) {
		if n := v.Len(); n > before[name] {
			o.spans[name] = append(o.spans[name], span{file, before[name], n})
		}
	}
}

// locate prefixes a validation error's target with the file (or files,
// when resources share a name) that hold what it names.
func (o *origins) locate(s *network.Snapshot, e *armerror.Error) *armerror.Error {
	files := o.filesOf(s, e.Target)
	if len(files) == 0 {
		return e
	}
	return inFile(strings.Join(files, ","), e)
}

// filesOf finds the files of what a target names: collection[name] or
// collection[#index], then, for a child, .properties.children[i].
func (o *origins) filesOf(s *network.Snapshot, target string) []string {
	coll, ref, rest, ok := cutIndex(target)
	if !ok {
		return nil
	}
	v, ok := collections(s)[coll]
	if !ok {
		return nil
	}
	match := func(i int) bool { return fieldString(v.Index(i), "Name") == ref }
	if n, ok := strings.CutPrefix(ref, "#"); ok {
		idx, err := strconv.Atoi(n)
		if err != nil {
			return nil
		}
		match = func(i int) bool { return i == idx }
	}
	var files []string
	add := func(f string) {
		if !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	for _, sp := range o.spans[coll] {
		for i := sp.start; i < sp.end && i < v.Len(); i++ {
			if !match(i) {
				continue
			}
			if f, ok := o.childFile(v.Index(i), rest); ok {
				add(f)
			} else {
				add(sp.file)
			}
		}
	}
	return files
}

// childFile reports the file of the child resource a target's rest
// (".properties.securityRules[7]...") names, if it was read on its own.
func (o *origins) childFile(parent reflect.Value, rest string) (string, bool) {
	rest, ok := strings.CutPrefix(rest, ".properties.")
	if !ok {
		return "", false
	}
	seg, ref, _, ok := cutIndex(rest)
	if !ok {
		return "", false
	}
	idx, err := strconv.Atoi(ref)
	if err != nil {
		return "", false
	}
	props := parent.FieldByName("Properties")
	if !props.IsValid() || props.Kind() != reflect.Struct {
		return "", false
	}
	for i := range props.NumField() {
		if jsonName(props.Type().Field(i)) != seg {
			continue
		}
		list := props.Field(i)
		if list.Kind() != reflect.Slice || idx < 0 || idx >= list.Len() {
			return "", false
		}
		name := fieldString(list.Index(idx), "Name")
		id := fieldString(parent, "ID")
		file, found := "", false
		for _, c := range o.children { // the last merge wins, as in Finish
			if network.SameID(c.parentID, id) && strings.EqualFold(c.name, name) {
				file, found = c.file, true
			}
		}
		return file, found
	}
	return "", false
}

// cutIndex splits "name[ref]rest".
func cutIndex(s string) (name, ref, rest string, ok bool) {
	name, after, ok := strings.Cut(s, "[")
	if !ok {
		return "", "", "", false
	}
	ref, rest, ok = strings.Cut(after, "]")
	return name, ref, rest, ok
}

func fieldString(v reflect.Value, field string) string {
	if f := v.FieldByName(field); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// serverSide is how a network command asks a vnetml server instead, when
// no --resources is given: the server's flags and the group to look for
// --nic in.
type serverSide struct {
	srv   serverFlags
	group string
}

func (s *serverSide) register(f *pflag.FlagSet) {
	f.VarP(text(&s.group, "GROUP"), "resource-group", "g",
		"without --resources: the resource group to look for --nic in (default: the whole subscription)")
	s.srv.register(f)
}

// check decides the mode: offline with --resources, else the server. It
// records in l the flags that do not fit the mode, and a missing server.
func (s *serverSide) check(l *armerror.List, r *resourceFlags) (offline bool) {
	if len(r.files) > 0 {
		for _, f := range []struct{ name, v string }{
			{"--resource-group", s.group}, {"--endpoint", s.srv.endpoint}, {"--token", s.srv.token},
			{"--ca-cert", s.srv.caCert}, {"--subscription", s.srv.subscription},
		} {
			if f.v != "" {
				l.Addf(codeInvalidArgument, f.name, "%s applies when asking a server, not with --resources: the resource files are the whole network", f.name)
			}
		}
		return true
	}
	if r.serviceTags != "" {
		l.Addf(codeInvalidArgument, "--service-tags", "--service-tags applies with --resources; a server uses its own service tags")
	}
	if res, err := s.srv.resolved(); err == nil && res.token == "" {
		l.Addf(codeMissingArgument, "--resources",
			"--resources is required when no server is configured: give the resource JSON files to check offline, "+
				"or ask a vnetml server (run `vnetml login`, or give --token or VNETML_TOKEN)")
	}
	return false
}

// session is one command's conversation with the server: network
// interfaces and watchers are looked up once each.
type session struct {
	c        *client.Client
	sub      string
	group    string
	nicList  []json.RawMessage // the NICs in scope, listed on the first name to resolve
	listed   bool
	nics     map[string]nicLookup // by the reference as given, lower case
	watchers map[string]string    // by subscription/location
}

// serverNIC is a network interface found on the server.
type serverNIC struct {
	id, location string
}

type nicLookup struct {
	nic serverNIC
	err error
}

// open connects to the server.
func (s *serverSide) open() (*session, error) {
	c, r, err := s.srv.client()
	if err != nil {
		return nil, err
	}
	return &session{c: c, sub: r.subscription, group: s.group, nics: map[string]nicLookup{}, watchers: map[string]string{}}, nil
}

// nic resolves a network interface reference: a full id, or a name looked
// for in the group (-g) or the whole subscription. Errors name target (the
// flag or query field that gave the reference).
func (s *session) nic(ctx context.Context, ref, target string) (serverNIC, error) {
	key := strings.ToLower(ref)
	if r, ok := s.nics[key]; ok {
		return r.nic, r.err
	}
	n, err := s.findNIC(ctx, ref, target)
	if a, ok := armerror.As(err); ok && fatal(a) {
		return n, err // not the reference's fault: not worth remembering
	}
	s.nics[key] = nicLookup{n, err}
	return n, err
}

func (s *session) findNIC(ctx context.Context, ref, target string) (serverNIC, error) {
	if strings.HasPrefix(ref, "/") {
		if !strings.EqualFold(armTypeOfID(ref), network.TypeNetworkInterface) {
			return serverNIC{}, armerror.New(codeInvalidArgument, target, "%q is not the id of a network interface (%s/NAME)", ref, network.TypeNetworkInterface)
		}
		doc, err := s.c.Get(ctx, ref)
		if err != nil {
			if a, ok := armerror.As(err); ok && !fatal(a) {
				c := *a
				c.Target = target
				return serverNIC{}, &c
			}
			return serverNIC{}, err
		}
		var h struct{ ID, Location string }
		if err := json.Unmarshal(doc, &h); err != nil {
			return serverNIC{}, internalErr(fmt.Errorf("decoding network interface %s: %w", ref, err))
		}
		return serverNIC{h.ID, h.Location}, nil
	}
	where := "subscription " + s.sub
	path := "/subscriptions/" + s.sub + "/providers/" + network.TypeNetworkInterface
	if s.group != "" {
		where = "resource group " + s.group
		path = "/subscriptions/" + s.sub + "/resourceGroups/" + s.group + "/providers/" + network.TypeNetworkInterface
	}
	if !s.listed {
		docs, err := s.c.List(ctx, path)
		if err != nil {
			return serverNIC{}, err
		}
		s.nicList, s.listed = docs, true
	}
	var found []serverNIC
	var known, groups []string
	for _, d := range s.nicList {
		var h struct{ ID, Name, Location string }
		if json.Unmarshal(d, &h) != nil {
			continue
		}
		name := h.Name
		if s.group == "" {
			name = groupOfID(h.ID) + "/" + h.Name
		}
		known = append(known, name)
		if strings.EqualFold(h.Name, ref) {
			found = append(found, serverNIC{h.ID, h.Location})
			groups = append(groups, groupOfID(h.ID))
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		msg := fmt.Sprintf("network interface %q was not found in %s", ref, where)
		if len(known) > 10 {
			known = append(known[:10], "...")
		}
		if len(known) > 0 {
			msg += " (known: " + strings.Join(known, ", ") + ")"
		} else {
			msg += ", which has none"
		}
		return serverNIC{}, armerror.New(codeNotFound, target, "%s", msg)
	}
	return serverNIC{}, armerror.New(codeInvalidArgument, target, "%d network interfaces in %s are named %q, in resource groups %s: give -g GROUP, or the NIC's full id",
		len(found), where, ref, strings.Join(groups, ", "))
}

// watcher returns the id of the network watcher of the NIC's subscription
// and region.
func (s *session) watcher(ctx context.Context, n serverNIC) (string, error) {
	sub := s.sub
	if r, err := network.ParseResourceID(n.id); err == nil {
		sub = r.Subscription
	}
	key := strings.ToLower(sub + "/" + n.location)
	if w, ok := s.watchers[key]; ok {
		return w, nil
	}
	w, err := s.c.Watcher(ctx, sub, n.location)
	if err != nil {
		return "", err
	}
	s.watchers[key] = w
	return w, nil
}

// checkNIC checks the flags of a command that asks about one network
// interface and decides the mode: offline with --resources, else the
// server.
func (s *serverSide) checkNIC(r *resourceFlags, nic string) (offline bool, err error) {
	var l armerror.List
	offline = s.check(&l, r)
	if nic == "" {
		l.Addf(codeMissingArgument, "--nic", "--nic is required: the network interface's name or resource id")
	}
	if l.Len() > 0 {
		return offline, usageErr(l.In("the command line"))
	}
	return offline, nil
}

// ask posts a network interface's action (/effectiveRouteTable, ...) to
// the server and decodes the answer into out.
func (s *serverSide) ask(ctx context.Context, nicRef, action string, out any) error {
	ss, err := s.open()
	if err != nil {
		return err
	}
	nic, err := ss.nic(ctx, nicRef, "--nic")
	if err != nil {
		return err
	}
	return askErr(ss.c.Post(ctx, nic.id+action, nil, out), nicFlags)
}

// fatal reports whether a server's error ends a command rather than one
// query: the server is unreachable or broken, or refuses the token.
func fatal(a *armerror.Error) bool {
	switch a.Code {
	case "ServerUnreachable", "InternalServerError", "ServiceUnavailable", "UnexpectedResponse",
		"AuthenticationFailed", "AuthorizationFailed", "InvalidEndpoint", "InvalidCACert":
		return true
	}
	return false
}

// retarget returns a copy of e, details included, whose targets are
// renamed by names: the server's field names to the flags (or query
// fields) the user wrote.
func retarget(e *armerror.Error, names map[string]string) *armerror.Error {
	if e == nil {
		return nil
	}
	c := *e
	if n, ok := names[e.Target]; ok {
		c.Target = n
	}
	if len(e.Details) > 0 {
		c.Details = make([]*armerror.Error, len(e.Details))
		for i, d := range e.Details {
			c.Details[i] = retarget(d, names)
		}
	}
	return &c
}

// askErr maps the error of a question to the server: its own errors with
// their targets renamed, anything else as it is.
func askErr(err error, names map[string]string) error {
	if a, ok := armerror.As(err); ok && !fatal(a) {
		return retarget(a, names)
	}
	return err
}
