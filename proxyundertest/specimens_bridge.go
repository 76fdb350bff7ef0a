package proxyundertest

// The reference bridge and the bridge specimens: role B proxies, each the
// bridge plus one bug seen in a real MCP-terminating bridge.
func init() {
	Register(Specimen{
		Name:        "bridge",
		Description: "MCP-terminating bridge on the official Go SDK (own sessions, status mapping, relayed progress); passes every role B scenario",
		RunArgs:     []string{"--role", "B"},
		Bridge:      func(*Bridge) {},
	})
}
