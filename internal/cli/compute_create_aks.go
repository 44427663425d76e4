package cli

import (
	"context"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vnetml/vnetml/internal/armerror"
)

// aksFlags are `vnetml compute create --type aks`'s: the SDK's
// AksCompute.provisioning_configuration (surface §A.5).
type aksFlags struct {
	agentCount       string
	purpose          string
	lbType           string
	lbSubnet         string
	serviceCIDR      string
	dnsServiceIP     string
	dockerBridgeCIDR string
	sslCname         string
	sslCertFile      string
	sslKeyFile       string
	sslLeafDomain    string
}

func (a *aksFlags) register(f *pflag.FlagSet) {
	f.Var(text(&a.agentCount, "N"), "agent-count", "--type aks: the cluster's agent nodes (default 3)")
	f.Var(text(&a.purpose, "FastProd|DevTest"), "cluster-purpose", "--type aks: FastProd (default; at least 12 vCPUs in all) or DevTest")
	f.Var(text(&a.lbType, "PublicIp|InternalLoadBalancer"), "load-balancer-type", "--type aks: where scoring calls arrive: a public IP (default) or an address of the virtual network")
	f.Var(text(&a.lbSubnet, "SUBNET"), "load-balancer-subnet", "--type aks: the internal load balancer's subnet (default aks-subnet)")
	f.Var(text(&a.serviceCIDR, "CIDR"), "service-cidr", "--type aks: the Kubernetes service range: private, in no subnet or peered network")
	f.Var(text(&a.dnsServiceIP, "IP"), "dns-service-ip", "--type aks: the cluster DNS address, inside --service-cidr (not its first address)")
	f.Var(text(&a.dockerBridgeCIDR, "CIDR"), "docker-bridge-cidr", "--type aks: the Docker bridge range, overlapping neither the network nor --service-cidr")
	// The SDK's names: provisioning_configuration(ssl_cname=...,
	// ssl_cert_pem_file=..., ssl_key_pem_file=...) and
	// enable_ssl(leaf_domain_label=...).
	f.Var(text(&a.sslCname, "NAME"), "ssl-cname", "--type aks: the name of the scoring endpoint's TLS certificate, for https://NAME/... (with --ssl-cert-pem-file and --ssl-key-pem-file)")
	f.Var(text(&a.sslCertFile, "FILE"), "ssl-cert-pem-file", "--type aks: the scoring endpoint's PEM certificate, then its chain (- for stdin)")
	f.Var(text(&a.sslKeyFile, "FILE"), "ssl-key-pem-file", "--type aks: the certificate's unencrypted PEM key (checked against the certificate)")
	f.Var(text(&a.sslLeafDomain, "LABEL"), "ssl-leaf-domain-label", "--type aks: instead of your own certificate, one the deployment CA issues for LABEL<6 random>.<location>.cloudapp.azure.com")
	// Their first names, kept for scripts that use them.
	f.Var(text(&a.sslCertFile, "FILE"), "ssl-cert-file", "same as --ssl-cert-pem-file")
	f.Var(text(&a.sslKeyFile, "FILE"), "ssl-key-file", "same as --ssl-key-pem-file")
	_ = f.MarkHidden("ssl-cert-file")
	_ = f.MarkHidden("ssl-key-file")
}

// set reports whether any AKS flag was given.
func (a *aksFlags) set() bool {
	return a.agentCount != "" || a.purpose != "" || a.lbType != "" || a.lbSubnet != "" || a.serviceCIDR != "" || a.dnsServiceIP != "" ||
		a.dockerBridgeCIDR != "" || a.sslCname != "" || a.sslCertFile != "" || a.sslKeyFile != "" || a.sslLeafDomain != ""
}

// runAKS creates an inference cluster (computeType AKS). The server
// checks the settings as the SDK does and the network as Azure CNI does.
func (c *computeCreateCmd) runAKS(ctx context.Context, args []string) error {
	var l armerror.List
	c.ws.check(&l, "to create the compute in")
	timeout, interval := c.wait.check(&l)
	a := &c.aks
	props := map[string]any{}
	if n, ok := intArg(&l, "--agent-count", a.agentCount); ok {
		props["agentCount"] = n
	}
	for _, amlOnly := range []struct{ flag, v string }{{"--min-nodes", c.minNodes}, {"--max-nodes", c.maxNodes}, {"--vm-priority", c.vmPriority},
		{"--idle-seconds-before-scaledown", c.idleSeconds}, {"--admin-username", c.adminUser}, {"--remote-login-port-public-access", c.remoteLogin}} {
		if amlOnly.v != "" {
			l.Addf(codeInvalidArgument, amlOnly.flag, "%s is a setting of AmlCompute clusters, not of --type aks (an inference cluster has --agent-count nodes)", amlOnly.flag)
		}
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	cert, err := readFlagFile(c.env.stdin, "--ssl-cert-pem-file", a.sslCertFile, "")
	if err != nil {
		return err
	}
	key, err := readFlagFile(c.env.stdin, "--ssl-key-pem-file", a.sslKeyFile, "")
	if err != nil {
		return err
	}
	cl, ws, err := c.ws.open(ctx)
	if err != nil {
		return err
	}
	set := func(k, v string) {
		if v != "" {
			props[k] = v
		}
	}
	set("agentVmSize", c.vmSize)
	set("clusterPurpose", a.purpose)
	set("loadBalancerType", a.lbType)
	set("loadBalancerSubnet", a.lbSubnet)
	if a.sslCname != "" || cert != "" || key != "" || a.sslLeafDomain != "" {
		ssl := map[string]any{"status": "Enabled"}
		if a.sslLeafDomain != "" {
			ssl["status"], ssl["leafDomainLabel"] = "Auto", a.sslLeafDomain
		}
		for k, v := range map[string]string{"cname": a.sslCname, "cert": cert, "key": key} {
			if v != "" {
				ssl[k] = v
			}
		}
		props["sslConfiguration"] = ssl
	}
	subnet := c.subnet
	if subnet == "" && (c.vnetGroup != "" || c.vnetName != "" || c.subnetName != "") {
		subnet = "/subscriptions/" + strings.Split(ws, "/")[2] + "/resourceGroups/" + c.vnetGroup + "/providers/Microsoft.Network/virtualNetworks/" + c.vnetName + "/subnets/" + c.subnetName
	}
	if subnet != "" || a.serviceCIDR != "" || a.dnsServiceIP != "" || a.dockerBridgeCIDR != "" {
		id := subnet
		if subnet != "" && !strings.HasPrefix(subnet, "/") {
			if id, err = subnetRef(ws, subnet); err != nil {
				return err
			}
		}
		props["aksNetworkingConfiguration"] = map[string]any{"subnetId": id, "serviceCidr": a.serviceCIDR, "dnsServiceIP": a.dnsServiceIP, "dockerBridgeCidr": a.dockerBridgeCIDR}
	}
	body := map[string]any{"properties": map[string]any{"computeType": "AKS", "description": c.description, "properties": props}}
	name := args[0]
	id := ws + "/computes/" + name
	doc, err := createOnly(ctx, cl, computeType, id, body, "delete it first to change it (vnetml compute delete "+name+" -w "+lastSegment(ws)+")")
	if err != nil {
		return retargetErr(err, aksTargets)
	}
	return c.finish(ctx, cl, id, name, ws, doc, timeout, interval)
}

// aksTargets name the flag of each field the server may refuse.
var aksTargets = map[string]string{
	"properties.properties.agentCount":                                  "--agent-count",
	"properties.properties.agentVmSize":                                 "--vm-size",
	"properties.properties.clusterPurpose":                              "--cluster-purpose",
	"properties.properties.loadBalancerType":                            "--load-balancer-type",
	"properties.properties.loadBalancerSubnet":                          "--load-balancer-subnet",
	"properties.properties.aksNetworkingConfiguration.subnetId":         "--subnet",
	"properties.properties.aksNetworkingConfiguration.serviceCidr":      "--service-cidr",
	"properties.properties.aksNetworkingConfiguration.dnsServiceIP":     "--dns-service-ip",
	"properties.properties.aksNetworkingConfiguration.dockerBridgeCidr": "--docker-bridge-cidr",
	"properties.properties.sslConfiguration.cname":                      "--ssl-cname",
	"properties.properties.sslConfiguration.cert":                       "--ssl-cert-pem-file",
	"properties.properties.sslConfiguration.key":                        "--ssl-key-pem-file",
	"properties.properties.sslConfiguration.leafDomainLabel":            "--ssl-leaf-domain-label",
}
