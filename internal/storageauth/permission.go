package storageauth

import (
	"fmt"
	"strings"
)

// Permission is a set of SAS permission letters (sp), Azure's: r read,
// a add, c create, w write, d delete, x delete version, y permanent delete,
// l list, t tags, f filter by tags, m move, e execute, o ownership,
// p permissions (process, in an account SAS), i immutability policy,
// u update. The zero value permits nothing.
type Permission uint16

// The permission letters, one bit each.
const (
	PermRead            Permission = 1 << iota // r
	PermAdd                                    // a
	PermCreate                                 // c
	PermWrite                                  // w
	PermDelete                                 // d
	PermDeleteVersion                          // x
	PermPermanentDelete                        // y
	PermList                                   // l
	PermTag                                    // t
	PermFilter                                 // f
	PermMove                                   // m
	PermExecute                                // e
	PermOwnership                              // o
	PermPermissions                            // p (Process in an account SAS)
	PermImmutability                           // i
	PermUpdate                                 // u
)

// permLetters lists the letters in bit order.
const permLetters = "racwdxyltfmeopiu"

// Azure's orders: a service SAS lists its letters as "racwdxyltfmeopi", an
// account SAS as "rwdxylacupfti". Signing writes them in these orders, as
// Azure's SDKs do; parsing accepts any order.
const (
	serviceOrder = "racwdxyltfmeopi"
	accountOrder = "rwdxylacupfti"
)

// Letters valid in each kind of SAS.
var (
	servicePerms = mustPerm(serviceOrder)
	accountPerms = mustPerm(accountOrder)
)

func mustPerm(s string) Permission {
	p, err := parsePermission(s, ^Permission(0))
	if err != nil {
		panic(err)
	}
	return p
}

// ParsePermission reads permission letters in any order; an unknown letter
// is an error. Letters may repeat.
func ParsePermission(s string) (Permission, error) {
	return parsePermission(s, ^Permission(0))
}

func parsePermission(s string, valid Permission) (Permission, error) {
	var p Permission
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(permLetters, s[i])
		if j < 0 || valid&(1<<j) == 0 {
			return 0, fmt.Errorf("%q is not a permission letter here (valid: %s)", s[i:i+1], valid.letters(permLetters))
		}
		p |= 1 << j
	}
	return p, nil
}

// String returns the letters in a service SAS's order, then u.
func (p Permission) String() string { return p.letters(serviceOrder + "u") }

// letters writes the letters of p that appear in order, in that order.
func (p Permission) letters(order string) string {
	var b [len(permLetters)]byte
	n := 0
	for i := 0; i < len(order); i++ {
		if p&(1<<strings.IndexByte(permLetters, order[i])) != 0 {
			b[n] = order[i]
			n++
		}
	}
	return string(b[:n])
}

// Services is a set of storage services (an account SAS's ss): b blob,
// f file, q queue, t table.
type Services uint8

// The services.
const (
	ServiceBlob  Services = 1 << iota // b
	ServiceFile                       // f
	ServiceQueue                      // q
	ServiceTable                      // t
)

const serviceLetters = "bfqt"

func (s Services) String() string { return setString(uint8(s), serviceLetters) }

// ResourceTypes is a set of resource types (an account SAS's srt):
// s service (account-level operations such as List Containers),
// c container, o object (blob or file).
type ResourceTypes uint8

// The resource types.
const (
	ResourceService   ResourceTypes = 1 << iota // s
	ResourceContainer                           // c
	ResourceObject                              // o
)

const resourceLetters = "sco"

func (r ResourceTypes) String() string { return setString(uint8(r), resourceLetters) }

func setString(bits uint8, letters string) string {
	var b [8]byte
	n := 0
	for i := 0; i < len(letters); i++ {
		if bits&(1<<i) != 0 {
			b[n] = letters[i]
			n++
		}
	}
	return string(b[:n])
}

// parseSet reads a string of distinct letters, each of which must be in
// letters (in any order).
func parseSet(s, letters string) (uint8, error) {
	if s == "" {
		return 0, fmt.Errorf("it is empty; use letters of %q", letters)
	}
	var bits uint8
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(letters, s[i])
		if j < 0 {
			return 0, fmt.Errorf("%q is not one of the letters %q", s[i:i+1], letters)
		}
		bits |= 1 << j
	}
	return bits, nil
}

// Kind is the broad kind of a data-plane operation, what a SAS permission
// decides on. Its first four values are those of the blob store's Kind.
type Kind uint8

// The kinds.
const (
	// KindRead reads content, properties, metadata or a block list: r.
	KindRead Kind = iota + 1
	// KindWrite creates or overwrites: w.
	KindWrite
	// KindDelete deletes: d.
	KindDelete
	// KindList lists containers or blobs: l.
	KindList
	// KindCreate creates and cannot overwrite (Create Container, or a Put
	// Blob with If-None-Match: *): c or w.
	KindCreate
)

// Access is what a request does, as a SAS decides on it.
//
// Service is the endpoint the request came to; the zero value means
// ServiceBlob. Container is empty for account-level operations (List
// Containers); Blob is empty for container-level ones. Perm holds the
// letters any one of which allows the operation (Azure's "c or w"); a zero
// Perm is allowed by nothing. Container and Blob are the names as the
// request carries them, URL-decoded.
type Access struct {
	Service   Services
	Container string
	Blob      string
	Perm      Permission
}

// NewAccess returns the Access of an operation of kind k on container and
// blob at the blob endpoint:
//
//	KindRead r, KindWrite w, KindCreate c or w, KindDelete d, KindList l
//
// An unknown kind yields a zero Perm, which no SAS allows.
func NewAccess(k Kind, container, blob string) Access {
	var p Permission
	switch k {
	case KindRead:
		p = PermRead
	case KindWrite:
		p = PermWrite
	case KindCreate:
		p = PermCreate | PermWrite
	case KindDelete:
		p = PermDelete
	case KindList:
		p = PermList
	}
	return Access{Service: ServiceBlob, Container: container, Blob: blob, Perm: p}
}

// ResourceType is the resource type of the access: object when it names a
// blob, container when it names a container only, service otherwise.
func (a Access) ResourceType() ResourceTypes {
	switch {
	case a.Blob != "":
		return ResourceObject
	case a.Container != "":
		return ResourceContainer
	}
	return ResourceService
}

func (a Access) service() Services {
	if a.Service == 0 {
		return ServiceBlob
	}
	return a.Service
}
