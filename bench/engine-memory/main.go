// Command engine-memory measures the resident memory of the flow engine's
// benchmark workload — the whole real service-tag file plus a subnet NSG
// and a NIC NSG of 1,000 rules each — against the same process before it
// loads anything (the baseline, measured in the same run).
//
//	go run ./bench/engine-memory [-tags ../shared/data/ServiceTags_Public.json]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/flow"
	"github.com/vnetml/vnetml/internal/flow/flowbench"
	"github.com/vnetml/vnetml/internal/servicetag"
)

func main() { os.Exit(run()) }

func run() int {
	path := flag.String("tags", "../shared/data/ServiceTags_Public.json", "service tag file in the ServiceTags_Public.json format")
	flag.Parse()
	base := rss()
	f, err := os.Open(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine-memory:", err)
		return 1
	}
	start := time.Now()
	tags, err := servicetag.Load(bufio.NewReader(f))
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine-memory:", err)
		return 1
	}
	loaded := time.Since(start)
	e := flow.Compile(flowbench.Net(tags, 1000, flowbench.Split, 1), tags)
	compiled := time.Since(start)
	runtime.GC()
	debug.FreeOSMemory()
	after := rss()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("baseline RSS (empty process)       %6.1f MB\n", base)
	fmt.Printf("RSS with tags + 2x1000-rule engine %6.1f MB (%.1f MB over baseline)\n", after, after-base)
	fmt.Printf("Go heap in use                     %6.1f MB\n", float64(m.HeapInuse)/(1<<20))
	fmt.Printf("load tag file %v, load + compile %v\n", loaded.Round(time.Millisecond), compiled.Round(time.Millisecond))
	runtime.KeepAlive(e)
	return 0
}

// rss reads the process's resident set size from /proc (Linux).
func rss() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}
