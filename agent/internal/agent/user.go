package agent

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// execUser is who the process runs as.
type execUser struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups from /etc/group
	Home     string
	// Switch is false when the process keeps the agent's own identity.
	Switch bool
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// Inputs of user resolution; variables so tests can stand in for them.
var (
	passwdFile = "/etc/passwd"
	groupFile  = "/etc/group"
	currentIDs = func() (uid, gid uint32) { return uint32(os.Getuid()), uint32(os.Getgid()) }
)

// resolveUser interprets Docker's --user ("", "uid", "name", "uid:gid",
// "name:group") against the image's /etc/passwd and /etc/group, like runc.
// Switching identity needs root; a non-root agent (Lambda runs functions as
// an unprivileged user) can only run the process as itself, and asking for
// anyone else is an error rather than silently running as the wrong user.
func resolveUser(spec string) (execUser, error) {
	curUID, curGID := currentIDs()
	passwd := readPasswd()
	groups := readGroups()

	if spec == "" {
		u := execUser{UID: curUID, GID: curGID, Home: "/"}
		for _, p := range passwd {
			if p.uid == curUID {
				u.Home = p.home
				break
			}
		}
		return u, nil
	}

	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	var u execUser
	u.Home = "/"
	var userName string
	if id, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.UID = uint32(id)
		for _, p := range passwd {
			if p.uid == u.UID {
				u.GID, u.Home, userName = p.gid, p.home, p.name
				break
			}
		}
		// A numeric uid absent from passwd is allowed (gid 0), as in Docker.
	} else {
		found := false
		for _, p := range passwd {
			if p.name == userPart {
				u.UID, u.GID, u.Home, userName = p.uid, p.gid, p.home, p.name
				found = true
				break
			}
		}
		if !found {
			return execUser{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
	}
	if hasGroup {
		if id, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			u.GID = uint32(id)
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return execUser{}, fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	} else if userName != "" {
		for _, g := range groups {
			for _, m := range g.members {
				if m == userName && g.gid != u.GID {
					u.Groups = append(u.Groups, g.gid)
				}
			}
		}
	}

	if u.UID == curUID && (!hasGroup || u.GID == curGID) {
		u.GID = curGID // the agent's own identity, whatever passwd says
		u.Groups = nil
		return u, nil
	}
	if curUID != 0 {
		return execUser{}, fmt.Errorf("unable to run as user %q (uid %d, gid %d): the agent runs as uid %d, gid %d without privileges to change user",
			spec, u.UID, u.GID, curUID, curGID)
	}
	u.Switch = true
	return u, nil
}

func readPasswd() []passwdEntry {
	var out []passwdEntry
	eachLine(passwdFile, func(f []string) {
		// name:password:uid:gid:gecos:home:shell
		if len(f) < 6 {
			return
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return
		}
		out = append(out, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5]})
	})
	return out
}

func readGroups() []groupEntry {
	var out []groupEntry
	eachLine(groupFile, func(f []string) {
		// name:password:gid:member,member
		if len(f) < 3 {
			return
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			return
		}
		g := groupEntry{name: f[0], gid: uint32(gid)}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	})
	return out
}

// eachLine calls fn with the colon-separated fields of each line of path; a
// missing file is treated as empty, as images without /etc/passwd exist.
func eachLine(path string, fn func([]string)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fn(strings.Split(line, ":"))
	}
}
