package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	// The file systems a path may name: local paths, gs:// and s3://.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
)

// Every file the pipelines read or write goes through Beam's filesystem
// package, so a path may be local or name an object store (gs://, s3://).
// Library code of the root module reads local files only; remote inputs
// are staged into a local temporary directory first.

// isRemote reports whether p names an object store rather than a local
// path.
func isRemote(p string) bool { return strings.Contains(p, "://") }

// join joins a directory and a name with the separator of the path's
// kind: "/" for URLs, the OS's for local paths.
func join(dir string, elem ...string) string {
	if isRemote(dir) {
		return strings.TrimSuffix(dir, "/") + "/" + path.Join(elem...)
	}
	return filepath.Join(append([]string{dir}, elem...)...)
}

// openFS returns the file system of p.
func openFS(ctx context.Context, p string) (filesystem.Interface, error) {
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return fs, nil
}

// exists reports whether the file p is there.
func exists(ctx context.Context, p string) (bool, error) {
	if !isRemote(p) {
		_, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	fs, err := openFS(ctx, p)
	if err != nil {
		return false, err
	}
	defer fs.Close()
	l, err := fs.List(ctx, p)
	if err != nil {
		return false, fmt.Errorf("%s: %w", p, err)
	}
	return len(l) > 0, nil
}

// readAll reads the whole file p.
func readAll(ctx context.Context, p string) ([]byte, error) {
	fs, err := openFS(ctx, p)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	b, err := filesystem.Read(ctx, fs, p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return b, nil
}

// tempSuffix returns a random suffix for a temporary name.
func tempSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return ".tmp-" + hex.EncodeToString(b[:])
}

// writeAtomic creates the file p from what write produces: it writes to
// a temporary name beside p and renames it into place only when write
// and the close have succeeded, so a file at p is always complete. On an
// error the temporary file is removed.
func writeAtomic(ctx context.Context, p string, write func(io.Writer) error) (err error) {
	fs, err := openFS(ctx, p)
	if err != nil {
		return err
	}
	defer fs.Close()
	tmp := p + tempSuffix()
	w, err := fs.OpenWrite(ctx, tmp)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	defer func() {
		if err != nil {
			if rm, ok := fs.(filesystem.Remover); ok {
				_ = rm.Remove(ctx, tmp)
			}
		}
	}()
	if err := write(w); err != nil {
		w.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := filesystem.Rename(ctx, fs, tmp, p); err != nil {
		return fmt.Errorf("committing %s: %w", p, err)
	}
	return nil
}

// remove deletes the files ps, ignoring those already gone.
func remove(ctx context.Context, ps ...string) error {
	for _, p := range ps {
		if !isRemote(p) {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			continue
		}
		fs, err := openFS(ctx, p)
		if err != nil {
			return err
		}
		if rm, ok := fs.(filesystem.Remover); ok {
			if ok, _ := exists(ctx, p); ok {
				if err := rm.Remove(ctx, p); err != nil {
					fs.Close()
					return fmt.Errorf("removing %s: %w", p, err)
				}
			}
		}
		fs.Close()
	}
	return nil
}

// download copies the file p into the local directory dir and returns
// the local name.
func download(ctx context.Context, p, dir string) (string, error) {
	fs, err := openFS(ctx, p)
	if err != nil {
		return "", err
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, p)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	defer r.Close()
	local := filepath.Join(dir, path.Base(strings.TrimSuffix(p, "/")))
	f, err := os.Create(local)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return local, f.Close()
}

// upload copies the local file local to p, atomically.
func upload(ctx context.Context, local, p string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeAtomic(ctx, p, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}

// stager makes remote inputs local: Local returns a local path holding
// the file a path names (the path itself if it is local), downloading a
// remote file once into a temporary directory that Close removes.
type stager struct {
	dir  string
	seen map[string]string
}

// Local returns a local path for p; what names p's flag in errors.
func (s *stager) Local(ctx context.Context, what, p string) (string, error) {
	if !isRemote(p) {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return p, nil
	}
	if l, ok := s.seen[p]; ok {
		return l, nil
	}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "bulwark-cluster-")
		if err != nil {
			return "", err
		}
		s.dir, s.seen = d, map[string]string{}
	}
	sub, err := os.MkdirTemp(s.dir, "f")
	if err != nil {
		return "", err
	}
	l, err := download(ctx, p, sub)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	s.seen[p] = l
	return l, nil
}

// Spec returns the dataset spec with the files of npz:, npy:, cifar10:
// and cifar100: specs staged locally (a CIFAR directory is staged file by
// file). Other specs (mnist, fashion-mnist, synth:) name data installed
// on every worker and pass unchanged.
func (s *stager) Spec(ctx context.Context, spec string) (string, error) {
	body, suffix := spec, ""
	if strings.HasSuffix(spec, "]") {
		if k := strings.LastIndexByte(spec, '['); k > 0 {
			body, suffix = spec[:k], spec[k:]
		}
	}
	kind, arg, _ := strings.Cut(body, ":")
	if !isRemote(arg) {
		return spec, nil
	}
	switch kind {
	case "npz":
		l, err := s.Local(ctx, "--data", arg)
		return kind + ":" + l + suffix, err
	case "npy":
		x, y, ok := strings.Cut(arg, ",")
		if !ok {
			return spec, nil // data.Open names the problem
		}
		lx, err := s.Local(ctx, "--data", x)
		if err != nil {
			return "", err
		}
		ly, err := s.Local(ctx, "--data", y)
		return kind + ":" + lx + "," + ly + suffix, err
	case "cifar10", "cifar100":
		fs, err := openFS(ctx, arg)
		if err != nil {
			return "", err
		}
		defer fs.Close()
		files, err := fs.List(ctx, strings.TrimSuffix(arg, "/")+"/*.bin")
		if err != nil || len(files) == 0 {
			return "", fmt.Errorf("--data: %s: no .bin files (%v)", arg, err)
		}
		d, err := os.MkdirTemp(s.dirOrTemp(), "cifar")
		if err != nil {
			return "", err
		}
		for _, f := range files {
			if _, err := download(ctx, f, d); err != nil {
				return "", fmt.Errorf("--data: %w", err)
			}
		}
		return kind + ":" + d + suffix, nil
	}
	return spec, nil
}

// dirOrTemp returns the stager's directory, making it if needed.
func (s *stager) dirOrTemp() string {
	if s.dir == "" {
		if d, err := os.MkdirTemp("", "bulwark-cluster-"); err == nil {
			s.dir, s.seen = d, map[string]string{}
		}
	}
	return s.dir
}

// Close removes what was staged.
func (s *stager) Close() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
		s.dir = ""
	}
}
