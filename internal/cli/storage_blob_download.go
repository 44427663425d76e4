package cli

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vnetml/vnetml/internal/armerror"
	"github.com/vnetml/vnetml/internal/client"
)

// storageBlobDownloadCmd is `vnetml storage blob download`: a resumable
// download.
//
// The bytes go to FILE.part, and the blob's ETag to FILE.part.etag beside
// it. A rerun continues from the end of FILE.part, asking for the rest on
// the condition that the blob still has that ETag (If-Match), so that a
// resumed file never mixes two versions; a changed blob starts over. The
// whole file is checked against the blob's Content-MD5 before it is
// renamed into place.
type storageBlobDownloadCmd struct {
	env        *env
	blob       blobFlags
	out        outputFlag
	name       string
	file       string
	noProgress bool
}

func newStorageBlobDownloadCmd(e *env) *cobra.Command {
	c := &storageBlobDownloadCmd{env: e}
	cmd := &cobra.Command{
		Use:   "download --account-name ACCOUNT -c CONTAINER -n NAME -f FILE [--auth-mode key|login] [--file-share] [--no-progress]",
		Short: "Download a blob to a file, resumably, through the account's firewall",
		Long: `Download a blob to a file. The download is resumable: the bytes go to
FILE.part and the blob's ETag to FILE.part.etag; when the download stops
(an interrupt, a network failure, a firewall refusal), running the same
command again continues where it stopped, provided the blob has not
changed since (its ETag is checked by the service, If-Match). A blob that
changed is downloaded again from the start, and the command says so.

Once every byte is there, the file is checked against the blob's MD5
(Content-MD5; it covers the bytes kept from an earlier run too) and
renamed to FILE; a mismatch discards the partial file. Blobs over 8 MiB
show their progress on stderr unless --no-progress.`,
		Example: `  vnetml storage blob download --account-name mlstore -c data -n train.csv -f train.csv
  # interrupted? the same command resumes
  vnetml storage blob download --account-name mlstore -c data -n train.csv -f train.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd.Context(), args) },
	}
	cmd.DisableFlagsInUseLine = true
	f := cmd.Flags()
	f.VarP(text(&c.name, "NAME"), "name", "n", "the blob to download (required)")
	f.VarP(text(&c.file, "FILE"), "file", "f", "the file to write (required); FILE.part and FILE.part.etag hold a download in progress")
	f.BoolVar(&c.noProgress, "no-progress", false, "show no progress on stderr")
	c.blob.register(f)
	c.out.register(f)
	return cmd
}

// Suffixes of the files of a download in progress.
const (
	partSuffix = ".part"
	etagSuffix = ".part.etag"
)

func (c *storageBlobDownloadCmd) run(ctx context.Context, _ []string) error {
	var l armerror.List
	c.blob.check(&l)
	if c.name == "" {
		l.Addf(codeMissingArgument, "--name", "-n/--name is required: the blob to download")
	}
	if c.file == "" {
		l.Addf(codeMissingArgument, "--file", "-f/--file is required: the file to write")
	}
	if l.Len() > 0 {
		return usageErr(l.In("the command line"))
	}
	s, err := c.blob.open(ctx)
	if err != nil {
		return err
	}
	info, resumed, err := c.download(ctx, s)
	if err != nil {
		return err
	}
	if c.out.json() {
		return writeJSON(c.env.stdout, info)
	}
	how := ""
	if resumed > 0 {
		how = fmt.Sprintf(", resumed at byte %d", resumed)
	}
	_, err = fmt.Fprintf(c.env.stdout, "Downloaded blob %s/%s of storage account %s to %s (%d bytes%s).\n",
		c.blob.container, c.name, s.Account(), c.file, info.Size, how)
	return internalErr(err)
}

// download brings the blob into FILE and returns its properties and the
// offset it resumed at (0 for a download from the start).
func (c *storageBlobDownloadCmd) download(ctx context.Context, s *client.Storage) (client.BlobInfo, int64, error) {
	part, tagFile := c.file+partSuffix, c.file+etagSuffix
	// A blob that changes between the look and the read is looked at
	// again (If-Match fails); twice is bad luck, three times is a blob
	// being rewritten all the time.
	for attempt := 0; ; attempt++ {
		info, err := c.properties(ctx, s)
		if err != nil {
			return info, 0, err
		}
		offset := c.resumeFrom(part, tagFile, info)
		if err := os.WriteFile(tagFile, []byte(info.ETag+"\n"), 0o644); err != nil {
			return info, 0, usageErr(armerror.New(codeInvalidArgument, "--file", "cannot write %s beside the download: %v", tagFile, err))
		}
		sum, err := c.fetch(ctx, s, part, info, offset)
		if a, ok := armerror.As(err); ok && a.Code == "ConditionNotMet" && attempt < 2 {
			fmt.Fprintf(c.env.stderr, "vnetml: blob %s/%s changed during the download: starting over.\n", c.blob.container, c.name)
			os.Remove(part)
			continue
		}
		if err != nil {
			if st, serr := os.Stat(part); serr == nil && st.Size() > 0 {
				fmt.Fprintf(c.env.stderr, "vnetml: %s keeps %d of the blob's %d bytes: run the same command again to resume the download.\n", part, st.Size(), info.Size)
			}
			return info, 0, err
		}
		if st, err := os.Stat(part); err != nil || st.Size() != info.Size {
			return info, 0, armerror.New("DownloadInterrupted", "", "%s does not hold the blob's %d bytes. Run the command again to resume the download", part, info.Size)
		}
		if info.ContentMD5 != "" && base64.StdEncoding.EncodeToString(sum) != info.ContentMD5 {
			os.Remove(part)
			os.Remove(tagFile)
			return info, 0, armerror.New("Md5Mismatch", "--file",
				"the downloaded bytes do not match the blob's Content-MD5 %s (they hash to %s): the partial file %s held other bytes, or they were damaged on the way. "+
					"The partial download is discarded; run the command again to download the blob afresh", info.ContentMD5, base64.StdEncoding.EncodeToString(sum), part)
		}
		if err := os.Rename(part, c.file); err != nil {
			return info, 0, usageErr(armerror.New(codeInvalidArgument, "--file", "cannot move the download into place: %v", err))
		}
		os.Remove(tagFile)
		return info, offset, nil
	}
}

// properties returns the blob's properties (HEAD). An answer to HEAD has
// no body, so a refusal comes without its explanation (the firewall's
// rule, the address it judged): the question is then asked again as a
// GET, a list of the blobs named with the name as a prefix, whose refusal
// explains itself.
func (c *storageBlobDownloadCmd) properties(ctx context.Context, s *client.Storage) (client.BlobInfo, error) {
	info, err := s.Properties(ctx, c.blob.container, c.name)
	if err == nil {
		return info, nil
	}
	if _, ok := armerror.As(err); !ok {
		return info, err
	}
	if _, lerr := s.List(ctx, c.blob.container, c.name); lerr != nil {
		return info, lerr
	}
	if a, _ := armerror.As(err); a.Code == "BlobNotFound" {
		return info, armerror.New(a.Code, "--name", "The specified blob does not exist: there is no blob %s in container %s of storage account %s.",
			c.name, c.blob.container, s.Account())
	}
	return info, err
}

// resumeFrom returns the offset to continue a download from: the size of
// FILE.part when FILE.part.etag holds the blob's current ETag, else 0
// (saying why, when there was something to resume).
func (c *storageBlobDownloadCmd) resumeFrom(part, tagFile string, info client.BlobInfo) int64 {
	st, err := os.Stat(part)
	if err != nil {
		return 0
	}
	b, _ := os.ReadFile(tagFile)
	saved := strings.TrimSpace(string(b))
	why := ""
	switch {
	case saved == "":
		why = fmt.Sprintf("%s has no ETag recorded beside it (%s)", part, tagFile)
	case !sameETag(saved, info.ETag):
		why = fmt.Sprintf("the blob changed since %s was started (ETag %s, now %s)", part, saved, info.ETag)
	case st.Size() > info.Size:
		why = fmt.Sprintf("%s holds %d bytes, more than the blob's %d", part, st.Size(), info.Size)
	default:
		if st.Size() > 0 {
			fmt.Fprintf(c.env.stderr, "vnetml: resuming the download of %s/%s at byte %d of %d.\n", c.blob.container, c.name, st.Size(), info.Size)
		}
		return st.Size()
	}
	fmt.Fprintf(c.env.stderr, "vnetml: %s: downloading from the start.\n", why)
	return 0
}

// fetch writes the blob's bytes from offset on to the end of part (the
// bytes before offset are kept) and returns the MD5 of the whole file.
func (c *storageBlobDownloadCmd) fetch(ctx context.Context, s *client.Storage, part string, info client.BlobInfo, offset int64) ([]byte, error) {
	flags := os.O_CREATE | os.O_RDWR
	if offset == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return nil, usageErr(armerror.New(codeInvalidArgument, "--file", "cannot write the download: %v", err))
	}
	h := md5.New()
	err = c.fill(ctx, s, f, h, info, offset)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = internalErr(fmt.Errorf("writing %s: %w", part, cerr))
	}
	if err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func (c *storageBlobDownloadCmd) fill(ctx context.Context, s *client.Storage, f *os.File, h hash.Hash, info client.BlobInfo, offset int64) error {
	// The kept bytes count in the MD5 of the whole.
	if n, err := io.CopyN(h, f, offset); err != nil || n != offset {
		return internalErr(fmt.Errorf("reading the partial download %s: %v", f.Name(), err))
	}
	if offset == info.Size {
		return nil // complete already: a run stopped before the rename
	}
	bar := newProgress(c.env.stderr, "Downloading", c.name, info.Size, offset, c.noProgress)
	_, err := s.Download(ctx, c.blob.container, c.name, offset, info.ETag, io.MultiWriter(f, h), bar.update)
	bar.end()
	if _, ok := armerror.As(err); ok || err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	return armerror.New("DownloadInterrupted", "", "the download of %s/%s stopped: %v. Run the command again to resume it", c.blob.container, c.name, err)
}

// sameETag compares two ETags as strong validators, with or without their
// quotes (the blob list shows them bare, HTTP headers quoted).
func sameETag(a, b string) bool {
	return a != "" && strings.Trim(a, `"`) == strings.Trim(b, `"`)
}
