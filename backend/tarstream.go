package backend

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
)

// decompressed reads an archive that a client sent compressed or not, as
// dockerd accepts them on PUT /archive (testcontainers, for one, always sends
// gzip). Compression is told by its magic bytes.
func decompressed(body io.Reader) (io.Reader, error) {
	br := bufio.NewReader(body)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, badRequest("the archive is not a valid gzip stream: %s", err)
		}
		return gz, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}), bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, badRequest("xz and zstd archives are not supported: send the tar plain, gzip or bzip2 compressed")
	}
	return br, nil
}

// checkTar reads a whole tar archive to refuse a broken one before it is
// stored, as dockerd refuses it before extracting.
func checkTar(data []byte) error {
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		_, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return badRequest("the archive is not a valid tar: %s", err)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return badRequest("the archive is not a valid tar: %s", fmt.Sprint(err))
		}
	}
}
