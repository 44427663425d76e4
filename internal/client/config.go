package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vnetml/vnetml/internal/api"
	"github.com/vnetml/vnetml/internal/armerror"
)

// Config is what `vnetml login` saves: where the server is and how to
// authenticate to it.
type Config struct {
	Endpoint     string `json:"endpoint"`
	Token        string `json:"token"`
	CACert       string `json:"caCert,omitempty"`
	Subscription string `json:"subscription,omitempty"`
	// ClientAddress is the public IPv4 address this user calls the
	// virtual cloud's data planes from (storage firewalls' ipRules judge
	// it); empty means api.DefaultClientAddress.
	ClientAddress string `json:"clientAddress,omitempty"`
}

// ConfigPath is where the config lives: $VNETML_CONFIG, else
// $XDG_CONFIG_HOME/vnetml/config.json, else ~/.config/vnetml/config.json.
func ConfigPath() string {
	if p := os.Getenv("VNETML_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "vnetml", "config.json")
}

// LoadConfig reads a config file; a missing file is an empty Config.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, armerror.New("InvalidConfig", path, "Reading %s: %v.", path, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, armerror.New("InvalidConfig", path, "%s is not a vnetml config (JSON with endpoint and token): %v. Run `vnetml login` again.", path, err)
	}
	return c, nil
}

// SaveConfig writes c to path with mode 0600 (it holds a token), through a
// temporary file so that a crash never leaves half a config.
func SaveConfig(path string, c Config) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadAdminToken reads the admin token a server wrote to its data
// directory.
func ReadAdminToken(dataDir string) (string, error) {
	p := filepath.Join(dataDir, api.AdminTokenFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("reading the admin token: %w (has `vnetml server --data-dir %s` run on this machine?)", err, dataDir)
	}
	return strings.TrimSpace(string(b)), nil
}
