//go:build !linux

package netns

// Handle is an open network namespace (none exist here).
type Handle struct{}

// Open fails: network namespaces are a Linux feature.
func Open(string) (*Handle, error) { return nil, ErrUnsupported }

// OfProcess fails: network namespaces are a Linux feature.
func OfProcess(int) (*Handle, error) { return nil, ErrUnsupported }

func (h *Handle) Name() string             { return "" }
func (h *Handle) Close() error             { return nil }
func (h *Handle) IsCurrent() bool          { return true }
func (h *Handle) Do(fn func() error) error { return fn() }

// Enter does nothing: there are no namespaces here.
func (h *Handle) Enter() error { return nil }
