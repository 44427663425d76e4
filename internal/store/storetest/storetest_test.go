package storetest_test

import (
	"testing"

	"github.com/vnetml/vnetml/internal/store"
	"github.com/vnetml/vnetml/internal/store/storetest"
)

// TestReference checks the suite against its own oracle.
func TestReference(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.NewReference() })
}
