package client

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/storageauth"
)

// BlockSize is the size of the blocks Upload sends.
const BlockSize = 4 << 20

// Storage is one storage account's data plane (blob or file endpoint), as
// a client reaches it through DataPlane.
type Storage struct {
	hc      *http.Client
	account string
	base    string // https://<account>.blob.core.windows.net
	key     []byte // Shared Key; nil when bearer is used
	bearer  string
}

// StorageOptions say how a Storage client authenticates.
type StorageOptions struct {
	// AuthMode is "key" (sign with the account key, fetched with
	// listKeys, as az's --auth-mode key) or "login" (the vnetml token).
	AuthMode string
	// File selects the file share endpoint (port 445) instead of blob.
	File bool
}

// Storage returns a client of the storage account accountID's data plane
// over hc (from DataPlane).
func (c *Client) Storage(ctx context.Context, hc *http.Client, accountID string, o StorageOptions) (*Storage, error) {
	name := accountID[strings.LastIndexByte(accountID, '/')+1:]
	s := &Storage{hc: hc, account: name, base: "https://" + strings.ToLower(name) + ".blob.core.windows.net"}
	if o.File {
		s.base = "https://" + strings.ToLower(name) + ".file.core.windows.net:445"
	}
	switch o.AuthMode {
	case "", "key":
		var keys struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		}
		if err := c.Post(ctx, accountID+"/listKeys", nil, &keys); err != nil {
			return nil, err
		}
		if len(keys.Keys) == 0 {
			return nil, armerror.New("NoAccountKeys", "", "Storage account %s returned no keys.", name)
		}
		k, err := base64.StdEncoding.DecodeString(keys.Keys[0].Value)
		if err != nil {
			return nil, err
		}
		s.key = k
	case "login":
		s.bearer = c.token
	default:
		return nil, armerror.New("InvalidArgument", "--auth-mode", "--auth-mode %q: use key or login.", o.AuthMode)
	}
	return s, nil
}

// Account is the account's name.
func (s *Storage) Account() string { return s.account }

// do sends one request, signed, and returns the response (the caller
// closes its body) or the service's error.
func (s *Storage) do(ctx context.Context, method, path string, q url.Values, body io.Reader, size int64, hdr map[string]string) (*http.Response, error) {
	u := s.base + "/" + strings.TrimPrefix(escapePath(path), "/")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("x-ms-version", "2023-11-03")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if s.key != nil {
		if err := storageauth.SignSharedKey(req, s.account, s.key, time.Now()); err != nil {
			return nil, err
		}
	} else {
		req.Header.Set("Authorization", "Bearer "+s.bearer)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, armerror.New("DataPlaneUnreachable", "", "%s %s: %v", method, u, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, storageError(resp, method, path)
	}
	return resp, nil
}

// storageError reads Azure Storage's XML error: its code, message and
// (vnetml's) target.
func storageError(resp *http.Response, method, path string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var x struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(b, &x) == nil && x.Code != "" {
		msg, _, _ := strings.Cut(x.Message, "\nRequestId:")
		return armerror.New(x.Code, "", "%s", strings.TrimSpace(msg))
	}
	code := resp.Header.Get("x-ms-error-code")
	if code == "" {
		code = "UnexpectedResponse"
	}
	return armerror.New(code, "", "%s %s answered %s", method, path, resp.Status)
}

// escapePath escapes each segment of a container/blob path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// CreateContainer creates a container; one that exists is not an error.
func (s *Storage) CreateContainer(ctx context.Context, container string) error {
	resp, err := s.do(ctx, http.MethodPut, container, url.Values{"restype": {"container"}}, nil, 0, nil)
	if e, ok := armerror.As(err); ok && e.Code == "ContainerAlreadyExists" {
		return nil
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Upload writes r (size bytes) to container/blob: one Put Blob when it fits
// one block, else Put Block of BlockSize each and a Put Block List, so a
// reader never sees a partial blob. progress, if not nil, is told the
// bytes sent so far.
func (s *Storage) Upload(ctx context.Context, container, blob string, r io.Reader, size int64, progress func(int64)) error {
	path := container + "/" + blob
	buf := make([]byte, BlockSize)
	if size <= BlockSize {
		n, err := io.ReadFull(r, buf[:size])
		if err != nil {
			return err
		}
		sum := md5.Sum(buf[:n])
		resp, err := s.do(ctx, http.MethodPut, path, nil, bytes.NewReader(buf[:n]), int64(n),
			map[string]string{"x-ms-blob-type": "BlockBlob", "Content-MD5": base64.StdEncoding.EncodeToString(sum[:])})
		if err != nil {
			return err
		}
		resp.Body.Close()
		if progress != nil {
			progress(int64(n))
		}
		return nil
	}
	var ids []string
	var sent int64
	for i := 0; sent < size; i++ {
		n, err := io.ReadFull(r, buf[:min(int64(BlockSize), size-sent)])
		if err != nil {
			return fmt.Errorf("reading block %d: %w", i, err)
		}
		id := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("block-%08d", i)))
		sum := md5.Sum(buf[:n])
		resp, err := s.do(ctx, http.MethodPut, path, url.Values{"comp": {"block"}, "blockid": {id}}, bytes.NewReader(buf[:n]), int64(n),
			map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])})
		if err != nil {
			return err
		}
		resp.Body.Close()
		ids = append(ids, id)
		sent += int64(n)
		if progress != nil {
			progress(sent)
		}
	}
	var list bytes.Buffer
	list.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
	for _, id := range ids {
		list.WriteString("<Latest>" + id + "</Latest>")
	}
	list.WriteString("</BlockList>")
	resp, err := s.do(ctx, http.MethodPut, path, url.Values{"comp": {"blocklist"}}, bytes.NewReader(list.Bytes()), int64(list.Len()), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// BlobInfo is a blob as Download and List report it.
type BlobInfo struct {
	Name         string    `json:"name"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"lastModified"`
	ContentMD5   string    `json:"contentMD5,omitempty"`
}

// Download writes container/blob from byte offset on to w, with etag (if
// not empty) required to match, so that a resumed download never mixes
// two versions. It returns the blob's properties.
func (s *Storage) Download(ctx context.Context, container, blob string, offset int64, etag string, w io.Writer, progress func(int64)) (BlobInfo, error) {
	hdr := map[string]string{}
	if offset > 0 {
		hdr["Range"] = "bytes=" + strconv.FormatInt(offset, 10) + "-"
	}
	if etag != "" {
		hdr["If-Match"] = etag
	}
	resp, err := s.do(ctx, http.MethodGet, container+"/"+blob, nil, nil, 0, hdr)
	if err != nil {
		return BlobInfo{}, err
	}
	defer resp.Body.Close()
	info := BlobInfo{Name: blob, ETag: resp.Header.Get("ETag"), ContentMD5: resp.Header.Get("Content-MD5")}
	info.LastModified, _ = http.ParseTime(resp.Header.Get("Last-Modified"))
	info.Size = resp.ContentLength + offset
	if cr := resp.Header.Get("Content-Range"); cr != "" {
		if _, total, ok := strings.Cut(cr, "/"); ok {
			info.Size, _ = strconv.ParseInt(total, 10, 64)
		}
	}
	done := offset
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return info, err
			}
			done += int64(n)
			if progress != nil {
				progress(done)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return info, rerr
		}
	}
	return info, nil
}

// Properties returns a blob's properties (HEAD).
func (s *Storage) Properties(ctx context.Context, container, blob string) (BlobInfo, error) {
	resp, err := s.do(ctx, http.MethodHead, container+"/"+blob, nil, nil, 0, nil)
	if err != nil {
		return BlobInfo{}, err
	}
	resp.Body.Close()
	info := BlobInfo{Name: blob, Size: resp.ContentLength, ETag: resp.Header.Get("ETag"), ContentMD5: resp.Header.Get("Content-MD5")}
	info.LastModified, _ = http.ParseTime(resp.Header.Get("Last-Modified"))
	return info, nil
}

// List returns the blobs of container whose names start with prefix,
// following the service's paging.
func (s *Storage) List(ctx context.Context, container, prefix string) ([]BlobInfo, error) {
	var out []BlobInfo
	marker := ""
	for {
		q := url.Values{"restype": {"container"}, "comp": {"list"}, "maxresults": {"1000"}}
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if marker != "" {
			q.Set("marker", marker)
		}
		resp, err := s.do(ctx, http.MethodGet, container, q, nil, 0, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Blobs []struct {
				Name       string `xml:"Name"`
				Properties struct {
					LastModified string `xml:"Last-Modified"`
					ETag         string `xml:"Etag"`
					Size         int64  `xml:"Content-Length"`
					ContentMD5   string `xml:"Content-MD5"`
				} `xml:"Properties"`
			} `xml:"Blobs>Blob"`
			NextMarker string `xml:"NextMarker"`
		}
		err = xml.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the blob list: %w", err)
		}
		for _, b := range page.Blobs {
			t, _ := http.ParseTime(b.Properties.LastModified)
			out = append(out, BlobInfo{Name: b.Name, Size: b.Properties.Size, ETag: b.Properties.ETag, LastModified: t, ContentMD5: b.Properties.ContentMD5})
		}
		if page.NextMarker == "" {
			return out, nil
		}
		marker = page.NextMarker
	}
}

// Delete deletes container/blob.
func (s *Storage) Delete(ctx context.Context, container, blob string) error {
	resp, err := s.do(ctx, http.MethodDelete, container+"/"+blob, nil, nil, 0, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Vault is one key vault's secrets data plane, reached through DataPlane
// with the client's vnetml token.
type Vault struct {
	hc    *http.Client
	base  string
	token string
}

// Vault returns a client of key vault name's secrets over hc.
func (c *Client) Vault(hc *http.Client, name string) *Vault {
	return &Vault{hc: hc, base: "https://" + strings.ToLower(name) + ".vault.azure.net", token: c.token}
}

// Secret is a secret version as Key Vault answers it.
type Secret struct {
	ID          string            `json:"id"`
	Value       string            `json:"value,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Attributes  struct {
		Enabled bool  `json:"enabled"`
		Created int64 `json:"created"`
		Updated int64 `json:"updated"`
	} `json:"attributes"`
}

func (v *Vault) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, method, v.base+path+sep+"api-version=7.4", body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+v.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := v.hc.Do(req)
	if err != nil {
		return armerror.New("DataPlaneUnreachable", "", "%s %s: %v", method, v.base+path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error struct {
				Code       string `json:"code"`
				Message    string `json:"message"`
				InnerError *struct {
					Code string `json:"code"`
				} `json:"innererror"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &env) == nil && env.Error.Code != "" {
			e := armerror.New(env.Error.Code, "", "%s", env.Error.Message)
			if env.Error.InnerError != nil {
				e.Details = []*armerror.Error{{Code: env.Error.InnerError.Code}}
			}
			return e
		}
		return armerror.New("UnexpectedResponse", "", "%s %s answered %s", method, path, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Set sets a new version of secret name.
func (v *Vault) Set(ctx context.Context, name, value string) (Secret, error) {
	var s Secret
	err := v.do(ctx, http.MethodPut, "/secrets/"+url.PathEscape(name), map[string]string{"value": value}, &s)
	return s, err
}

// Get returns the newest version of secret name.
func (v *Vault) Get(ctx context.Context, name string) (Secret, error) {
	var s Secret
	err := v.do(ctx, http.MethodGet, "/secrets/"+url.PathEscape(name), nil, &s)
	return s, err
}

// List lists the secrets (without values).
func (v *Vault) List(ctx context.Context) ([]Secret, error) {
	var out []Secret
	path := "/secrets?maxresults=25"
	for path != "" {
		var page struct {
			Value    []Secret `json:"value"`
			NextLink string   `json:"nextLink"`
		}
		if err := v.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Value...)
		path = ""
		if page.NextLink != "" {
			u, err := url.Parse(page.NextLink)
			if err != nil || !strings.EqualFold("https://"+u.Host, v.base) {
				return nil, armerror.New("UnexpectedResponse", "", "the vault's nextLink %q points elsewhere", page.NextLink)
			}
			q := u.Query()
			q.Del("api-version")
			path = u.Path + "?" + q.Encode()
		}
	}
	return out, nil
}

// Delete deletes secret name with every version.
func (v *Vault) Delete(ctx context.Context, name string) error {
	return v.do(ctx, http.MethodDelete, "/secrets/"+url.PathEscape(name), nil, nil)
}
