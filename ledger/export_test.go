package ledger

// RegisterUpgradeForTest lets the tests give this test binary an upgrade,
// the way a release build's init functions do.
func RegisterUpgradeForTest(u Upgrade) { registerUpgrade(u) }
