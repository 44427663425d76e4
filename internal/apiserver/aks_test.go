package apiserver_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const inference = workspace + "/computes/myaks"

func aksBody(agents int, purpose, serviceCIDR, dnsIP string) string {
	return fmt.Sprintf(`{"location": "eastus", "properties": {"computeType": "AKS", "properties": {
		"agentCount": %d, "agentVmSize": "Standard_D3_v2", "clusterPurpose": %q,
		"aksNetworkingConfiguration": {"subnetId": %q, "serviceCidr": %q, "dnsServiceIP": %q, "dockerBridgeCidr": "172.17.0.1/16"}}}}`,
		agents, purpose, vnet+"/subnets/default", serviceCIDR, dnsIP)
}

// TestInferenceCluster: an AKS compute in the subnet is checked as Azure
// CNI checks it (spec §8) before anything is made; its agent nodes are
// real node agents that Azure Machine Learning manages, so an NSG that
// refuses AzureMachineLearning inbound makes them unusable, naming the
// rule; its front end, azureml-fe, gets an address of the subnet and a
// public IP; deleting it removes all of that.
func TestInferenceCluster(t *testing.T) {
	e := computeEnv(t)
	e.firewalledNetwork()
	e.must(201, "PUT", workspace, `{"location": "eastus"}`)

	// The service CIDR overlaps both subnets: two errors, each naming one.
	r := e.call("PUT", inference, aksBody(2, "DevTest", "10.0.0.0/16", "10.0.0.10"))
	if r.status != 400 || strings.Count(string(r.body), `"ServiceCidrOverlapExistingSubnetsCidr"`) != 2 || !strings.Contains(string(r.body), "10.0.0.0/24") {
		t.Errorf("an overlapping service CIDR: %d %s", r.status, r.body)
	}
	e.wantError(400, "DnsServiceIpOutOfServiceCidr", "PUT", inference, aksBody(2, "DevTest", "10.2.0.0/16", "10.3.0.10"))
	e.wantError(400, "UserError", "PUT", inference, aksBody(1, "FastProd", "10.2.0.0/16", "10.2.0.10")) // 4 vCPUs < 12
	e.must(404, "GET", inference, nil)

	e.must(201, "PUT", inference, aksBody(2, "DevTest", "10.2.0.0/16", "10.2.0.10"))
	// The subnet's NSG denies the Internet inbound at 4000, and Azure ML
	// calls from an AzureMachineLearning address: the nodes are unusable.
	s := e.waitStatus(inference, "unusable inference nodes", func(s status) bool { return s.NodeStateCounts.UnusableNodeCount == 2 })
	if len(s.Errors) == 0 || !strings.Contains(s.Errors[0].Message, "Azure Machine Learning cannot reach the node") || !strings.Contains(s.Errors[0].Message, "deny-internet") {
		t.Fatalf("the unusable nodes' error: %+v", s.Errors)
	}
	e.must(201, "PUT", nsg+"/securityRules/allow-aml", `{"properties": {"priority": 300, "direction": "Inbound", "access": "Allow",
		"protocol": "Tcp", "sourceAddressPrefix": "AzureMachineLearning", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "29876-29877"}}`)
	e.waitStatus(inference, "idle inference nodes", func(s status) bool { return s.NodeStateCounts.IdleNodeCount == 2 })

	var doc struct {
		Properties struct {
			ComputeType string
			Properties  struct {
				SystemServices []struct{ ServiceName, PublicIPAddress, PrivateIPAddress, NetworkInterface string }
			}
			Resources struct{ FrontEnd, PublicIPAddress string } `json:"vnetmlResources"`
		}
	}
	json.Unmarshal(e.must(200, "GET", inference, nil).body, &doc)
	fe := doc.Properties.Properties.SystemServices
	if doc.Properties.ComputeType != "AKS" || len(fe) != 1 || fe[0].ServiceName != "azureml-fe" ||
		!strings.HasPrefix(fe[0].PrivateIPAddress, "10.0.0.") || fe[0].PublicIPAddress == "" {
		t.Fatalf("the front end: %+v", doc.Properties)
	}
	e.must(200, "DELETE", inference, nil)
	for _, id := range []string{doc.Properties.Resources.FrontEnd, doc.Properties.Resources.PublicIPAddress} {
		e.must(404, "GET", id, nil)
	}
	if nics, left := e.srvNodeNICsOf(inference), e.data.agentDirs(); len(nics) != 0 || len(left) != 0 {
		t.Fatalf("after delete: node interfaces %v, agent state %v", nics, left)
	}
}

func (e *env) srvNodeNICsOf(id string) map[string]string { return e.data.srv.Load().NodeNICs(id) }
