// Package keyvault owns key vault secrets (DESIGN.md §6): their versions,
// their encryption at rest and Key Vault's secrets REST data plane. The ARM
// resource Microsoft.KeyVault/vaults and its firewall (networkAcls, spec
// §6) live elsewhere and plug in through Handler's vaultOf and authorize
// hooks.
//
// # Storage
//
// Secrets are documents in a store.Store: {vaultID}/secrets/{name} orders
// the versions (a serial and the newest version, so that a Set is one
// transaction guarded by its etag), and
// {vaultID}/secrets/{name}/versions/{version} holds a version's attributes,
// tags, content type and sealed value. Versions are 32 random hex digits,
// as in Azure. Soft delete is not reproduced: Delete purges at once, and
// attributes report recoveryLevel "Purgeable".
//
// # Encryption at rest
//
// A value is sealed with AES-256-GCM under the Keyring's current master
// key, with a fresh random 12-byte nonce, and with additional data binding
// it to the case-folded id of its version: a ciphertext copied into another
// secret's document fails authentication (CodeIntegrity) instead of
// decrypting to the wrong secret. The document holds the key id, the nonce
// and the ciphertext (base64); the plaintext never reaches the store, a log
// line or an error message, and Value redacts itself when printed, logged
// or marshaled.
//
// Master keys live outside the database, in <data dir>/master-keys/<id>.key
// (64 hex digits, mode 0600; wider modes are refused), created on first use
// with ids 000001, 000002, …; the greatest is current. When VNETML_MASTER_KEY
// is set, its key (id "env") is current instead and the files only decrypt.
//
// # Rotation
//
//  1. Keyring.Rotate writes a new key file and makes it current: new
//     versions are sealed under it, old ones still decrypt with their key.
//  2. Service.Reencrypt re-seals every version still under an older key
//     (safe to run while serving; it retries on racing updates).
//  3. When Reencrypt returned nil, the old key files may be removed.
//
// A key from VNETML_MASTER_KEY cannot rotate in place (two keys cannot both
// be "env"): save it as master-keys/env.key, unset the variable, restart,
// and Reencrypt; to move to a new variable key, set it while the file keys
// are present, restart, Reencrypt, then remove them. docs/keyvault.md has
// the commands.
//
// # Validity
//
// Get refuses a disabled version (403 Forbidden, inner SecretDisabled, as
// Azure does), one before its nbf (inner SecretNotYetValid) and one from its
// exp on (inner SecretExpired). Azure documents the last two but, as of
// 2024, does not enforce them on secrets (Azure/AzureKeyVault#19); vnetml
// enforces what is documented. Get of the newest version ("") returns the
// newest enabled version, where Azure returns the newest and refuses it if
// disabled.
package keyvault
