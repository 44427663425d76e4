package blobstore

// Kind is the broad kind of an operation, what a firewall or a SAS
// permission set decides on.
type Kind uint8

const (
	KindRead Kind = iota + 1
	KindWrite
	KindDelete
	KindList
)

var kindNames = [...]string{KindRead: "read", KindWrite: "write", KindDelete: "delete", KindList: "list"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Operation is one REST operation of the subset the handler serves, named
// as in Azure's REST reference.
type Operation uint8

const (
	OpListContainers Operation = iota + 1
	OpCreateContainer
	OpDeleteContainer
	OpGetContainerProperties
	OpListBlobs
	OpPutBlob
	OpPutBlock
	OpPutBlockList
	OpGetBlockList
	OpGetBlob
	OpGetBlobProperties
	OpDeleteBlob
)

var opInfo = [...]struct {
	name string
	kind Kind
}{
	OpListContainers:         {"ListContainers", KindList},
	OpCreateContainer:        {"CreateContainer", KindWrite},
	OpDeleteContainer:        {"DeleteContainer", KindDelete},
	OpGetContainerProperties: {"GetContainerProperties", KindRead},
	OpListBlobs:              {"ListBlobs", KindList},
	OpPutBlob:                {"PutBlob", KindWrite},
	OpPutBlock:               {"PutBlock", KindWrite},
	OpPutBlockList:           {"PutBlockList", KindWrite},
	OpGetBlockList:           {"GetBlockList", KindRead},
	OpGetBlob:                {"GetBlob", KindRead},
	OpGetBlobProperties:      {"GetBlobProperties", KindRead},
	OpDeleteBlob:             {"DeleteBlob", KindDelete},
}

func (o Operation) String() string {
	if int(o) < len(opInfo) && opInfo[o].name != "" {
		return opInfo[o].name
	}
	return "Unknown"
}

// Kind returns the operation's kind.
func (o Operation) Kind() Kind {
	if int(o) < len(opInfo) {
		return opInfo[o].kind
	}
	return 0
}

// Request is what the authorize hook of Handler decides on: the operation
// and its target, already parsed and validated. Container is empty for
// ListContainers; Blob is empty for container and account operations.
type Request struct {
	Account   string
	Container string
	Blob      string
	Operation Operation
}

// Kind returns the kind of the request's operation.
func (r Request) Kind() Kind { return r.Operation.Kind() }
