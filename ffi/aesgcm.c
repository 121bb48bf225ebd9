/*
 * VeilNet Conflux AES-256-GCM through OpenSSL's libcrypto, bound by ffi/aesgcm.ts.
 *
 * Why a C file at all: node:crypto and WebCrypto in Deno spend 20-40 us per 1,400-byte
 * seal+open in per-call overhead, while libcrypto's stitched AES-GCM needs about 1 us.
 * One context per key keeps the expanded key; each packet only sets the IV.
 *
 * Conventions:
 * - int32 results: >= 0 success, negative failure; no 64-bit values cross the boundary.
 * - Nonce = 4-byte salt || 8-byte big-endian counter (the caller passes the 12 bytes for
 *   single calls, the salt plus 8 counter bytes per packet for batches).
 * - Batches work in place on one caller-owned buffer: packet i starts at offsets[i] with
 *   aad_len bytes of associated data, then lens[i] bytes of data, then (seal) room for the
 *   16-byte tag. A strided buffer is offsets[i] = i * stride. One FFI call per batch.
 * - Nothing here allocates per packet. Every bound is checked here too, so bad arguments
 *   fail instead of touching memory outside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define VN_EXPORT __attribute__((visibility("default")))

/* Bumped whenever a signature changes; aesgcm.ts refuses a library with another value. */
#define VN_AESGCM_ABI 1

#define VN_TAG_LEN 16
#define VN_KEY_LEN 32
#define VN_NONCE_LEN 12

/* Argument errors (nothing was processed). */
#define VN_EINVAL (-22)
#define VN_ENOMEM (-12)
/* Crypto failure: authentication failed (open) or libcrypto refused (seal). */
#define VN_EFAIL (-1)

typedef struct {
  EVP_CIPHER_CTX *enc;
  EVP_CIPHER_CTX *dec;
} vn_aesgcm;

VN_EXPORT int32_t vn_aesgcm_abi_version(void) { return VN_AESGCM_ABI; }

/* The libcrypto version number (OPENSSL_VERSION_NUMBER of the loaded library). */
VN_EXPORT int32_t vn_aesgcm_openssl_version(void) { return (int32_t)OpenSSL_version_num(); }

VN_EXPORT void vn_aesgcm_free(vn_aesgcm *c) {
  if (!c) return;
  /* EVP_CIPHER_CTX_free cleanses the key schedule. */
  EVP_CIPHER_CTX_free(c->enc);
  EVP_CIPHER_CTX_free(c->dec);
  OPENSSL_cleanse(c, sizeof *c);
  free(c);
}

/* A context for one 32-byte key, or NULL (bad key pointer, out of memory, no AES-GCM). */
VN_EXPORT vn_aesgcm *vn_aesgcm_new(const uint8_t *key, int32_t key_len) {
  if (!key || key_len != VN_KEY_LEN) return NULL;
  vn_aesgcm *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->enc = EVP_CIPHER_CTX_new();
  c->dec = EVP_CIPHER_CTX_new();
  if (!c->enc || !c->dec ||
      EVP_EncryptInit_ex(c->enc, EVP_aes_256_gcm(), NULL, key, NULL) != 1 ||
      EVP_DecryptInit_ex(c->dec, EVP_aes_256_gcm(), NULL, key, NULL) != 1) {
    vn_aesgcm_free(c);
    return NULL;
  }
  return c;
}

static int seal_one(EVP_CIPHER_CTX *x, const uint8_t *nonce, const uint8_t *aad, int32_t aad_len,
                    const uint8_t *in, int32_t len, uint8_t *out, uint8_t *tag) {
  int n = 0;
  if (EVP_EncryptInit_ex(x, NULL, NULL, NULL, nonce) != 1) return VN_EFAIL;
  if (aad_len > 0 && EVP_EncryptUpdate(x, NULL, &n, aad, aad_len) != 1) return VN_EFAIL;
  if (len > 0 && EVP_EncryptUpdate(x, out, &n, in, len) != 1) return VN_EFAIL;
  if (EVP_EncryptFinal_ex(x, out + len, &n) != 1) return VN_EFAIL;
  if (EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, VN_TAG_LEN, tag) != 1) return VN_EFAIL;
  return len + VN_TAG_LEN;
}

/* Decrypts in_len bytes of ciphertext with the tag at `tag`; on failure zeroes the output so
 * unauthenticated plaintext never reaches the caller. */
static int open_one(EVP_CIPHER_CTX *x, const uint8_t *nonce, const uint8_t *aad, int32_t aad_len,
                    const uint8_t *in, int32_t len, const uint8_t *tag, uint8_t *out) {
  int n = 0;
  uint8_t t[VN_TAG_LEN];
  /* Copied first: in place, the tag sits right after the data the update overwrites. */
  memcpy(t, tag, VN_TAG_LEN);
  if (EVP_DecryptInit_ex(x, NULL, NULL, NULL, nonce) != 1) return VN_EFAIL;
  if (EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, VN_TAG_LEN, t) != 1) return VN_EFAIL;
  if ((aad_len > 0 && EVP_DecryptUpdate(x, NULL, &n, aad, aad_len) != 1) ||
      (len > 0 && EVP_DecryptUpdate(x, out, &n, in, len) != 1) ||
      EVP_DecryptFinal_ex(x, out + len, &n) != 1) {
    if (len > 0) OPENSSL_cleanse(out, (size_t)len);
    return VN_EFAIL;
  }
  return len;
}

/*
 * Seals len bytes at `in` (nonce: 12 bytes) into `out`: ciphertext || tag (len + 16 bytes).
 * `out` may equal `in`. Returns len + 16, VN_EINVAL or VN_EFAIL.
 */
VN_EXPORT int32_t vn_aesgcm_seal(vn_aesgcm *c, const uint8_t *nonce, const uint8_t *aad,
                                 int32_t aad_len, const uint8_t *in, int32_t len, uint8_t *out) {
  if (!c || !nonce || aad_len < 0 || len < 0 || !out || (aad_len > 0 && !aad) ||
      (len > 0 && !in) || len > INT32_MAX - VN_TAG_LEN) {
    return VN_EINVAL;
  }
  return seal_one(c->enc, nonce, aad, aad_len, in, len, out, out + len);
}

/*
 * Opens `len` bytes of ciphertext || tag at `in` into `out` (len - 16 bytes; may equal `in`).
 * Returns the plaintext length, VN_EFAIL when authentication fails, or VN_EINVAL.
 */
VN_EXPORT int32_t vn_aesgcm_open(vn_aesgcm *c, const uint8_t *nonce, const uint8_t *aad,
                                 int32_t aad_len, const uint8_t *in, int32_t len, uint8_t *out) {
  if (!c || !nonce || aad_len < 0 || len < VN_TAG_LEN || !in || (aad_len > 0 && !aad) ||
      (len > VN_TAG_LEN && !out)) {
    return VN_EINVAL;
  }
  int32_t body = len - VN_TAG_LEN;
  return open_one(c->dec, nonce, aad, aad_len, in, body, in + body, out);
}

/* Checks every packet of a batch lies inside the buffer; `extra` is the room needed past the
 * data (the tag when sealing). */
static int batch_ok(int32_t count, int32_t buf_len, const int32_t *offsets, int32_t aad_len,
                    const int32_t *lens, int32_t min_len, int32_t extra) {
  for (int32_t i = 0; i < count; i++) {
    int64_t start = offsets[i];
    int64_t len = lens[i];
    if (start < 0 || len < min_len || start + aad_len + len + extra > (int64_t)buf_len) return 0;
  }
  return 1;
}

/*
 * Seals `count` packets in place. Packet i: AAD at buf[offsets[i]] (aad_len bytes), plaintext
 * of lens[i] bytes right after it, tag written after the ciphertext; nonce = salt (4 bytes) ||
 * counters[8i .. 8i+8]. Sets lens[i] to the sealed length (lens[i] + 16). Returns count, or
 * VN_EINVAL (nothing touched) when an argument or bound is wrong, or VN_EFAIL if libcrypto
 * failed (then lens[i] = -1 for the packets not sealed).
 */
VN_EXPORT int32_t vn_aesgcm_seal_batch(vn_aesgcm *c, const uint8_t *salt, int32_t count,
                                       uint8_t *buf, int32_t buf_len, const int32_t *offsets,
                                       int32_t aad_len, int32_t *lens, const uint8_t *counters) {
  if (!c || !salt || count < 0 || buf_len < 0 || aad_len < 0) return VN_EINVAL;
  if (count == 0) return 0;
  if (!buf || !offsets || !lens || !counters) return VN_EINVAL;
  if (!batch_ok(count, buf_len, offsets, aad_len, lens, 0, VN_TAG_LEN)) return VN_EINVAL;
  uint8_t nonce[VN_NONCE_LEN];
  memcpy(nonce, salt, 4);
  int32_t rc = count;
  for (int32_t i = 0; i < count; i++) {
    uint8_t *p = buf + offsets[i];
    uint8_t *data = p + aad_len;
    memcpy(nonce + 4, counters + 8 * (size_t)i, 8);
    int r = seal_one(c->enc, nonce, p, aad_len, data, lens[i], data, data + lens[i]);
    if (r < 0) {
      lens[i] = -1;
      rc = VN_EFAIL;
    } else {
      lens[i] = r;
    }
  }
  return rc;
}

/*
 * Opens `count` packets in place. Packet i: AAD at buf[offsets[i]], then lens[i] bytes of
 * ciphertext || tag. Sets lens[i] to the plaintext length (decrypted in place), or -1 when
 * authentication failed (those bytes are zeroed). Returns how many opened, or VN_EINVAL
 * (nothing touched) when an argument or bound is wrong (including lens[i] < 16).
 */
VN_EXPORT int32_t vn_aesgcm_open_batch(vn_aesgcm *c, const uint8_t *salt, int32_t count,
                                       uint8_t *buf, int32_t buf_len, const int32_t *offsets,
                                       int32_t aad_len, int32_t *lens, const uint8_t *counters) {
  if (!c || !salt || count < 0 || buf_len < 0 || aad_len < 0) return VN_EINVAL;
  if (count == 0) return 0;
  if (!buf || !offsets || !lens || !counters) return VN_EINVAL;
  if (!batch_ok(count, buf_len, offsets, aad_len, lens, VN_TAG_LEN, 0)) return VN_EINVAL;
  uint8_t nonce[VN_NONCE_LEN];
  memcpy(nonce, salt, 4);
  int32_t opened = 0;
  for (int32_t i = 0; i < count; i++) {
    uint8_t *p = buf + offsets[i];
    uint8_t *data = p + aad_len;
    int32_t body = lens[i] - VN_TAG_LEN;
    memcpy(nonce + 4, counters + 8 * (size_t)i, 8);
    int r = open_one(c->dec, nonce, p, aad_len, data, body, data + body, data);
    if (r < 0) {
      /* The tag bytes too, so a failed slot holds nothing derived from the packet. */
      memset(data + (body > 0 ? body : 0), 0, VN_TAG_LEN);
      lens[i] = -1;
    } else {
      lens[i] = r;
      opened++;
    }
  }
  return opened;
}
