package lambda

import (
	"context"
	"fmt"
)

// Lambda runs an image on the architecture the function declares. An image
// built for another one starts on AWS and fails at once with
// Runtime.InvalidEntrypoint ("exec format error"); the simulator gives the
// same answer. An image that matches the function but not the local engine
// (arm64 on an amd64 host) would run on AWS: the simulator cannot run it
// faithfully, so it says so in the same error rather than pretend.

// goArch maps Lambda's architecture names to the OCI ones.
var goArch = map[string]string{"x86_64": "amd64", "arm64": "arm64"}

// engineArch is the engine's architecture in OCI terms, learnt once.
func (d *dockerHost) engineArch(ctx context.Context) string {
	d.archOnce.Do(func() {
		info, err := d.client.Info(ctx)
		if err != nil {
			return
		}
		switch info.Architecture {
		case "x86_64", "amd64":
			d.arch = "amd64"
		case "aarch64", "arm64":
			d.arch = "arm64"
		default:
			d.arch = info.Architecture
		}
	})
	return d.arch
}

// checkArchitecture returns a *functionError when the image cannot run as
// the function conf describes on this engine.
func (d *dockerHost) checkArchitecture(ctx context.Context, ref string, conf functionConfiguration) error {
	img, err := d.client.ImageInspect(ctx, ref)
	if err != nil {
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	entry := "/lambda-entrypoint.sh"
	switch {
	case conf.ImageConfigResponse != nil && conf.ImageConfigResponse.ImageConfig != nil && len(conf.ImageConfigResponse.ImageConfig.EntryPoint) > 0:
		entry = conf.ImageConfigResponse.ImageConfig.EntryPoint[0]
	case img.Config != nil && len(img.Config.Entrypoint) > 0:
		entry = img.Config.Entrypoint[0]
	case img.Config != nil && len(img.Config.Cmd) > 0:
		entry = img.Config.Cmd[0]
	}
	want := goArch[conf.Architectures[0]]
	if img.Architecture != want {
		return &functionError{errType: "Runtime.InvalidEntrypoint", msg: "fork/exec " + entry + ": exec format error"}
	}
	if host := d.engineArch(ctx); host != "" && host != want {
		return &functionError{errType: "Runtime.InvalidEntrypoint", msg: fmt.Sprintf(
			"fork/exec %s: exec format error (the simulator's Docker engine is linux/%s and does not run linux/%s images)", entry, host, want)}
	}
	return nil
}
