package remote

import (
	"fmt"

	"github.com/normledger/normledger/verifiers"
)

// failf is a verification failure (it wraps verifiers.ErrVerification).
func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", verifiers.ErrVerification, fmt.Sprintf(format, args...))
}
