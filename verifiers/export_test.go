package verifiers

// HeaderTrustLevel is headerTrustLevel, for the tests.
var HeaderTrustLevel = headerTrustLevel
