package tlog

import (
	"fmt"
	"testing"
)

// BenchmarkLogWrite appends 10,000 entries to an on-disk log in blocks of
// 100, each block flushed and committed as the store does, with fsync off
// (the default) and on: the cost of the write path per block.
func BenchmarkLogWrite(b *testing.B) {
	const entries, block = 10000, 100
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				l, err := Open(b.TempDir(), 0, nil)
				if err != nil {
					b.Fatal(err)
				}
				l.SetSync(sync)
				for n := 0; n < entries; n++ {
					if _, err := l.Append(entry(n)); err != nil {
						b.Fatal(err)
					}
					if n%block == block-1 {
						if err := l.Flush(); err != nil {
							b.Fatal(err)
						}
						l.MarkCommitted(l.Size())
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*entries/block), "µs/block")
		})
	}
}
