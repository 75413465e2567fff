package esconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is an Elasticsearch release as --es-version gives it: MAJOR.MINOR or
// MAJOR.MINOR.PATCH (a missing patch is 0). What a version changes (the keystore
// format, the FIPS providers it can require) is decided by the package that owns the
// idea; this is only the number.
type Version struct{ Major, Minor, Patch int }

// ParseVersion reads "8.15" or "9.5.4".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("%q is not MAJOR.MINOR or MAJOR.MINOR.PATCH", s)
	}
	var nums [3]int
	for i, p := range parts {
		if p == "" || len(p) > 4 || strings.TrimLeft(p, "0123456789") != "" {
			return Version{}, fmt.Errorf("%q is not MAJOR.MINOR or MAJOR.MINOR.PATCH", s)
		}
		nums[i], _ = strconv.Atoi(p)
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

// AtLeast reports whether v is major.minor.patch or later.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// TrustFieldsSupported reports whether Elasticsearch v reads
// xpack.security.transport.ssl.trust_restrictions.x509_fields, which lets the trust
// restrictions match DNS names: 8.5.3 and later, and 7.17.8 and later on 7.x.
func TrustFieldsSupported(v Version) bool {
	if v.Major == 7 {
		return v.AtLeast(7, 17, 8)
	}
	return v.AtLeast(8, 5, 3)
}
