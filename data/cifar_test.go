package data

import (
	"os"
	"path/filepath"
	"testing"
)

// cifarRecords builds records of the given label bytes and pattern images;
// it returns the file bytes and the images alone.
func cifarRecords(lab [][]byte, seed uint64) (file, pix []byte) {
	for i, l := range lab {
		img := pattern(cifarImage, seed+uint64(i)*7919)
		file = append(append(file, l...), img...)
		pix = append(pix, img...)
	}
	return file, pix
}

func TestCIFAR10RoundTrip(t *testing.T) {
	for _, sub := range []string{"", "cifar-10-batches-bin"} {
		root := t.TempDir()
		dir := filepath.Join(root, sub)
		os.MkdirAll(dir, 0o755)
		var trainPix []byte
		var trainLab []int
		for b := 1; b <= 5; b++ {
			l := [][]byte{{byte(b)}, {byte(9 - b)}}
			f, p := cifarRecords(l, uint64(b))
			writeFile(t, dir, "data_batch_"+string(rune('0'+b))+".bin", f)
			trainPix = append(trainPix, p...)
			trainLab = append(trainLab, b, 9-b)
		}
		f, testPix := cifarRecords([][]byte{{0}, {9}, {4}}, 99)
		writeFile(t, dir, "test_batch.bin", f)
		train, test, err := ReadCIFAR10(root)
		if err != nil {
			t.Fatal(err)
		}
		if c, h, w := train.Shape(); c != 3 || h != 32 || w != 32 || train.Classes() != 10 {
			t.Fatalf("shape %d×%d×%d, %d classes", c, h, w, train.Classes())
		}
		checkU8(t, train, trainPix, trainLab)
		checkU8(t, test, testPix, []int{0, 9, 4})
	}
}

func TestCIFAR100RoundTrip(t *testing.T) {
	dir := t.TempDir()
	f, trainPix := cifarRecords([][]byte{{19, 99}, {0, 0}, {5, 42}}, 1)
	writeFile(t, dir, "train.bin", f)
	f, testPix := cifarRecords([][]byte{{3, 7}}, 2)
	writeFile(t, dir, "test.bin", f)
	train, test, err := ReadCIFAR100(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Classes() != 100 {
		t.Fatalf("Classes = %d, want 100", train.Classes())
	}
	checkU8(t, train, trainPix, []int{99, 0, 42})
	checkU8(t, test, testPix, []int{7})
}

func TestCIFARErrors(t *testing.T) {
	rec10, _ := cifarRecords([][]byte{{1}}, 1)
	rec100, _ := cifarRecords([][]byte{{1, 1}}, 1)
	cases := []struct {
		name  string
		c100  bool
		train []byte
		msg   string
	}{
		{"short", false, rec10[:len(rec10)-1], "multiple"},
		{"empty", false, nil, "multiple"},
		{"label", false, append([]byte{10}, rec10[1:]...), "label byte 0 is 10"},
		{"record size", true, rec10, "multiple"},
		{"coarse", true, append([]byte{20, 1}, rec100[2:]...), "label byte 0 is 20"},
		{"fine", true, append([]byte{1, 100}, rec100[2:]...), "label byte 1 is 100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var bad string
			var err error
			if c.c100 {
				bad = writeFile(t, dir, "train.bin", c.train)
				writeFile(t, dir, "test.bin", rec100)
				_, _, err = ReadCIFAR100(dir)
			} else {
				for b := 1; b <= 5; b++ {
					writeFile(t, dir, "data_batch_"+string(rune('0'+b))+".bin", rec10)
				}
				bad = writeFile(t, dir, "data_batch_3.bin", c.train)
				writeFile(t, dir, "test_batch.bin", rec10)
				_, _, err = ReadCIFAR10(dir)
			}
			wantErr(t, err, bad, c.msg)
		})
	}
	dir := t.TempDir()
	_, _, err := ReadCIFAR10(dir)
	wantErr(t, err, filepath.Join(dir, "data_batch_1.bin"))
}
