package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/vnetml/vnetml/internal/armerror"
)

// delete deletes what it names and says so; what is not there "did not
// exist" (exit 0, as az); what the server refuses fails with its code and
// message (exit 2). The steps run in order on one server.
func TestDelete(t *testing.T) {
	s := newTestServer(t)
	s.smallNetwork()
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout string   // exit 0
		stderr []string // otherwise
		gone   string   // an id that must be gone afterwards
	}{
		{"rule by parent/name", []string{"rule", "ml-nsg/DenyInternetInbound"}, exitOK,
			"Deleted security rule mygroup/ml-nsg/DenyInternetInbound\n", nil, testNSG + "/securityRules/DenyInternetInbound"},
		{"again", []string{"rule", "ml-nsg/DenyInternetInbound", "-g", "mygroup"}, exitOK,
			"Security rule mygroup/ml-nsg/DenyInternetInbound did not exist\n", nil, ""},
		{"a name no resource has", []string{"vnet", "nothere"}, exitOK, "Virtual network nothere did not exist\n", nil, ""},
		{"subnet in use", []string{"subnet", "appliance", "--vnet", "mynetwork"}, exitInput, "",
			[]string{"InUseSubnetCannotBeDeleted", "nva0"}, ""},
		{"route by flag", []string{"ROUTE", "onprem-via-appliance", "--route-table", "ml-routes"}, exitOK,
			"Deleted route mygroup/ml-routes/onprem-via-appliance\n", nil, testRT + "/routes/onprem-via-appliance"},
		{"nic", []string{"networkInterface", "nva0", "-g", "mygroup"}, exitOK,
			"Deleted network interface mygroup/nva0\n", nil, testNet + "/networkInterfaces/nva0"},
		{"subnet once unused", []string{"subnet", "mynetwork/appliance"}, exitOK,
			"Deleted subnet mygroup/mynetwork/appliance\n", nil, testVNet + "/subnets/appliance"},
		{"load balancer by id", []string{"lb", testLB}, exitOK, "Deleted load balancer mygroup/ml-lb\n", nil, testLB},
		{"public ip", []string{"pip", "ml-ip"}, exitOK, "Deleted public IP address mygroup/ml-ip\n", nil, testPIP},
		{"asg", []string{"asg", "ml-asg"}, exitOK, "Deleted application security group mygroup/ml-asg\n", nil, testASG},
		{"token that is not there", []string{"token", "ghost"}, exitOK, "Token ghost did not exist\n", nil, ""},
		{"no name", []string{"vnet"}, exitInput, "", []string{"MissingArgument (NAME)", "delete --help"}, ""},
		{"unknown type", []string{"vnett", "x"}, exitInput, "", []string{`did you mean vnet?`}, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := s.run(append([]string{"delete"}, st.args...)...)
			if st.code != exitOK {
				wantFail(t, r, st.code, st.stderr...)
				return
			}
			wantOK(t, r)
			if r.stdout != st.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, st.stdout)
			}
			if st.gone != "" {
				if _, err := s.c.Get(context.Background(), st.gone); err == nil {
					t.Errorf("%s is still there", st.gone)
				}
			}
		})
	}
}

// A lock refuses the delete with ScopeLocked and the command that removes
// it; once it is removed (on its scope: the group), the delete goes
// through. The lock is looked for on the subscription unless told.
func TestDeleteUnderALock(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	s.put(testLock, map[string]any{"properties": map[string]any{"level": "CanNotDelete"}})

	r := s.run("delete", "nic", "node0")
	wantFail(t, r, exitInput, "ScopeLocked", "vnetml delete lock keep --scope "+testGroup)
	if r.stdout != "" {
		t.Errorf("stdout: %s", r.stdout)
	}
	r = s.run("delete", "group", "mygroup")
	wantFail(t, r, exitInput, "ScopeLocked")

	r = s.run("delete", "lock", "keep")
	wantOK(t, r)
	want := "Lock keep on " + testSub + " did not exist; a lock named keep is on " + testGroup + ": give --scope " + testGroup + "\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = s.run("delete", "lock", "keep", "--scope", testGroup)
	wantOK(t, r)
	if want := "Deleted lock keep on " + testGroup + "\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	r = s.run("delete", "nic", "node0")
	wantOK(t, r)
	if r.stdout != "Deleted network interface mygroup/node0\n" {
		t.Errorf("stdout %q", r.stdout)
	}

	// The group and everything in it.
	r = s.run("delete", "rg", "mygroup")
	wantOK(t, r)
	if r.stdout != "Deleted resource group mygroup\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	_, err := s.c.Get(context.Background(), testVNet)
	if a, ok := armerror.As(err); !ok || a.Code != codeResourceNotFound {
		t.Errorf("the group's VNet after the group's delete: %v", err)
	}
}

// A Reader may not delete: the server's AuthorizationFailed, exit 2.
func TestDeleteAsReader(t *testing.T) {
	s := newTestServer(t)
	s.loadExample(example)
	r := s.run("token", "create", "reader", "--role", "Reader", "--scope", "/", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("token create: %s", r.stderr)
	}
	secret := secretOf(t, r.stdout)
	r = s.runAs(secret, "delete", "vnet", "mynetwork", "-g", "mygroup")
	wantFail(t, r, exitInput, "AuthorizationFailed")
	if !strings.Contains(string(s.get(testVNet)), "mynetwork") {
		t.Error("the VNet is gone")
	}
}
