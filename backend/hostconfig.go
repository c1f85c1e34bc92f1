package backend

import (
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// checkHostConfig refuses what Lambda cannot do and warns about what it
// ignores, never silently.
func checkHostConfig(hc *container.HostConfig, cfg *container.Config) ([]string, error) {
	var warnings []string
	if hc.Privileged {
		return nil, badRequest("privileged containers are not supported: Lambda runs functions in a sandbox without privileges")
	}
	if len(hc.Devices) > 0 || len(hc.DeviceRequests) > 0 || len(hc.DeviceCgroupRules) > 0 {
		return nil, badRequest("devices are not supported: Lambda functions have no access to host devices (GPUs included)")
	}
	if hc.NetworkMode.IsHost() {
		return nil, badRequest("host networking is not supported: each Lambda function has its own network sandbox")
	}
	for flag, mode := range map[string]string{"--pid": string(hc.PidMode), "--ipc": string(hc.IpcMode), "--uts": string(hc.UTSMode), "--userns": string(hc.UsernsMode)} {
		if mode == "host" || strings.HasPrefix(mode, "container:") {
			return nil, badRequest("%s=%s is not supported: each Lambda function has its own sandbox and shares no namespace", flag, mode)
		}
	}
	if hc.NetworkMode.IsContainer() {
		return nil, badRequest("--network=%s is not supported: each Lambda function has its own network sandbox", hc.NetworkMode)
	}
	if len(hc.PortBindings) > 0 || hc.PublishAllPorts {
		warnings = append(warnings, "Published ports are ignored: Lambda functions accept no inbound connections.")
	}
	if err := checkRestartPolicy(hc); err != nil {
		return nil, err
	}
	if err := checkHealthConfig(cfg.Healthcheck); err != nil {
		return nil, err
	}
	if ignored := ignoredSettings(hc, cfg); len(ignored) > 0 {
		warnings = append(warnings, "Ignored on Lambda: "+strings.Join(ignored, "; ")+".")
	}
	return warnings, nil
}

// ignoredSettings names the settings given that a Lambda function cannot
// have, each with why. CPU follows the memory size; the sandbox fixes the
// kernel-level knobs; Lambda sets DNS.
func ignoredSettings(hc *container.HostConfig, cfg *container.Config) []string {
	r := hc.Resources
	checks := map[string]bool{
		"--cpus, --cpu-shares, --cpu-quota, --cpuset-cpus (CPU follows the memory size)":                                r.NanoCPUs != 0 || r.CPUShares != 0 || r.CPUQuota != 0 || r.CPUPeriod != 0 || r.CpusetCpus != "" || r.CpusetMems != "" || r.CPUCount != 0 || r.CPUPercent != 0 || r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0,
		"--memory-swap, --memory-reservation, --oom-kill-disable, --oom-score-adj (the function's memory is its limit)": (r.MemorySwap != 0 && r.MemorySwap != -1 && r.MemorySwap != r.Memory) || r.MemoryReservation != 0 || (r.OomKillDisable != nil && *r.OomKillDisable) || hc.OomScoreAdj != 0 || (r.MemorySwappiness != nil && *r.MemorySwappiness != -1),
		"--pids-limit, --ulimit, --blkio-weight, --device-*-bps (the sandbox's limits apply)":                           (r.PidsLimit != nil && *r.PidsLimit > 0) || len(r.Ulimits) > 0 || r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0 || len(r.BlkioDeviceReadBps) > 0 || len(r.BlkioDeviceWriteBps) > 0 || len(r.BlkioDeviceReadIOps) > 0 || len(r.BlkioDeviceWriteIOps) > 0 || r.IOMaximumBandwidth != 0 || r.IOMaximumIOps != 0,
		"--cap-add, --cap-drop, --security-opt, --group-add (the sandbox fixes them)":                                   len(hc.CapAdd) > 0 || len(hc.CapDrop) > 0 || len(hc.SecurityOpt) > 0 || len(hc.GroupAdd) > 0,
		"--sysctl, --shm-size, --storage-opt, --cgroup-parent, --runtime, --init (the sandbox fixes them)":              len(hc.Sysctls) > 0 || hc.ShmSize != 0 || len(hc.StorageOpt) > 0 || r.CgroupParent != "" || (hc.Runtime != "" && hc.Runtime != "runc") || (hc.Init != nil && *hc.Init),
		"--dns, --dns-search, --dns-option, --add-host (Lambda sets the function's name resolution)":                    len(hc.DNS) > 0 || len(hc.DNSSearch) > 0 || len(hc.DNSOptions) > 0 || len(hc.ExtraHosts) > 0,
		"--link (functions cannot reach each other)":                                                                    len(hc.Links) > 0,
		"--log-driver, --log-opt (output goes to CloudWatch Logs)":                                                      (hc.LogConfig.Type != "" && hc.LogConfig.Type != "json-file" && hc.LogConfig.Type != "awslogs") || len(hc.LogConfig.Config) > 0,
		"--mac-address, --domainname (Lambda sets the function's network)":                                              cfg.MacAddress != "" || cfg.Domainname != "",
	}
	var out []string
	for name, set := range checks {
		if set {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
