package node

// AddSamples is addSamples, for the external tests (package node_test).
var AddSamples = addSamples
