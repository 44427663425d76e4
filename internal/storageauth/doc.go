// Package storageauth owns how a request to a storage account's data plane
// (Azure Blob REST, and the same scheme on the file endpoint) is
// authenticated, on both sides: verifying on the server, signing for our own
// clients (the CLI, node agents).
//
// Two schemes are supported, exactly as Azure Storage defines them:
//
//   - Shared Key (https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key),
//     service version 2009-09-19 and later: an Authorization header
//     "SharedKey <account>:<signature>" whose signature is the HMAC-SHA256,
//     under one of the account's keys, of a canonical string-to-sign built
//     from the request. SignSharedKey signs, VerifySharedKey verifies.
//   - Shared access signatures signed with an account key: service SAS for a
//     blob (sr=b) or a container (sr=c), and account SAS (ss, srt), with the
//     string-to-sign of service version 2020-12-06 and later. ParseSAS reads
//     one from a query, SAS.Verify decides on it, SignServiceSAS and
//     SignAccountSAS make one, StripSAS hides its parameters from handlers.
//
// User-delegation SAS, stored access policies (si), snapshot, version and
// directory SAS, file-service SAS (sr=f, sr=s), Shared Key Lite and bearer
// tokens are refused with an error that says so. See docs/storage-auth.md.
//
// The package knows nothing of the blob store: the operation a request does
// is described by an Access (service, container, blob and the permission
// letters any one of which allows it), which the server builds from its own
// request type. Keys are []byte; NewKey makes one as Azure does (64 random
// bytes) and ParseKey reads one in Azure's base64 form.
//
// Every refusal is an *armerror.Error with Azure Storage's code
// (AuthenticationFailed, AuthorizationPermissionMismatch, ...), the offending
// header or query parameter as its Target, and a message that says exactly
// why; Status maps a code to its HTTP status. No error ever contains a key
// or a signature computed from one; a Shared Key or SAS signature mismatch
// shows the server's string-to-sign (with newlines as \n, secret-bearing
// x-ms-* header values redacted), which is what a client needs to find its
// mistake.
//
// All functions are safe for concurrent use; SAS values are immutable.
package storageauth
