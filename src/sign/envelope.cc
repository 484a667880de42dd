#include "sign/envelope.h"

#include <sodium.h>

#include <cstdint>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/error.h"

namespace sealift::sign {

namespace {
constexpr size_t kSaltSize = 32;
constexpr uint32_t kR = 8;
constexpr uint32_t kP = 1;

uint64_t scrypt_n(ScryptStrength s) {
  switch (s) {
    case ScryptStrength::Legacy: return 32768;
    case ScryptStrength::Standard: return 65536;
    case ScryptStrength::Owasp: return 131072;
  }
  throw Error(ErrorKind::Internal, "unknown scrypt strength");
}

Secret derive_key(const Secret& password, std::string_view salt, uint64_t n) {
  Secret key(crypto_secretbox_KEYBYTES);
  if (crypto_pwhash_scryptsalsa208sha256_ll(password.data(), password.size(),
                                            reinterpret_cast<const uint8_t*>(salt.data()), salt.size(), n, kR, kP,
                                            key.data(), key.size()) != 0)
    throw Error(ErrorKind::Internal, "scrypt key derivation failed (out of memory?)");
  return key;
}

[[noreturn]] void malformed(std::string_view what, std::string_view why) {
  throw Error(ErrorKind::Input, fmt::format("{}: not a valid cosign encrypted key: {}", what, why),
              "the file may be truncated or not a cosign key; regenerate it with `sealift-bundle keygen`");
}

const nlohmann::json& member(const nlohmann::json& obj, const char* key, std::string_view what) {
  if (!obj.is_object() || !obj.contains(key)) malformed(what, fmt::format("missing \"{}\"", key));
  return obj.at(key);
}

std::string string_member(const nlohmann::json& obj, const char* key, std::string_view what) {
  const auto& v = member(obj, key, what);
  if (!v.is_string()) malformed(what, fmt::format("\"{}\" is not a string", key));
  return v.get<std::string>();
}

std::string base64_member(const nlohmann::json& obj, const char* key, std::string_view what) {
  std::string text = string_member(obj, key, what);
  try {
    return util::base64_decode(text);
  } catch (const Error&) {
    malformed(what, fmt::format("\"{}\" is not base64", key));
  }
}

uint64_t int_member(const nlohmann::json& obj, const char* key, std::string_view what) {
  const auto& v = member(obj, key, what);
  if (!v.is_number_unsigned()) malformed(what, fmt::format("\"{}\" is not a positive integer", key));
  return v.get<uint64_t>();
}
}  // namespace

std::string encrypt_envelope(const Secret& plaintext, const Secret& password, ScryptStrength strength) {
  init_sodium();
  std::string salt(kSaltSize, '\0');
  std::string nonce(crypto_secretbox_NONCEBYTES, '\0');
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(nonce.data(), nonce.size());
  uint64_t n = scrypt_n(strength);
  Secret key = derive_key(password, salt, n);
  std::string sealed(plaintext.size() + crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_easy(reinterpret_cast<unsigned char*>(sealed.data()), plaintext.data(), plaintext.size(),
                            reinterpret_cast<const unsigned char*>(nonce.data()), key.data()) != 0)
    throw Error(ErrorKind::Internal, "secretbox encryption failed");
  // Field order and compact form are Go's json.Marshal of go-securesystemslib's struct.
  return fmt::format(
      R"({{"kdf":{{"name":"scrypt","params":{{"N":{},"r":{},"p":{}}},"salt":"{}"}},)"
      R"("cipher":{{"name":"nacl/secretbox","nonce":"{}"}},"ciphertext":"{}"}})",
      n, kR, kP, util::base64_encode(salt), util::base64_encode(nonce), util::base64_encode(sealed));
}

Secret decrypt_envelope(std::string_view json, const Secret& password, std::string_view what) {
  init_sodium();
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) malformed(what, "the envelope is not a JSON object");

  const auto& kdf = member(doc, "kdf", what);
  std::string kdf_name = string_member(kdf, "name", what);
  if (kdf_name != "scrypt")
    throw Error(ErrorKind::Input, fmt::format("{}: unsupported key derivation \"{}\" (cosign keys use scrypt)", what, kdf_name));
  const auto& params = member(kdf, "params", what);
  uint64_t n = int_member(params, "N", what), r = int_member(params, "r", what), p = int_member(params, "p", what);
  bool known = r == kR && p == kP &&
               (n == scrypt_n(ScryptStrength::Legacy) || n == scrypt_n(ScryptStrength::Standard) ||
                n == scrypt_n(ScryptStrength::Owasp));
  if (!known)
    throw Error(ErrorKind::Input,
                fmt::format("{}: unsupported scrypt parameters N={} r={} p={}", what, n, r, p),
                "cosign accepts only N=32768, 65536 or 131072 with r=8, p=1");
  std::string salt = base64_member(kdf, "salt", what);

  const auto& cipher = member(doc, "cipher", what);
  std::string cipher_name = string_member(cipher, "name", what);
  if (cipher_name != "nacl/secretbox")
    throw Error(ErrorKind::Input, fmt::format("{}: unsupported cipher \"{}\" (cosign keys use nacl/secretbox)", what, cipher_name));
  std::string nonce = base64_member(cipher, "nonce", what);
  if (nonce.size() != crypto_secretbox_NONCEBYTES)
    malformed(what, fmt::format("the nonce is {} bytes, not {}", nonce.size(), crypto_secretbox_NONCEBYTES));
  std::string sealed = base64_member(doc, "ciphertext", what);
  if (sealed.size() < crypto_secretbox_MACBYTES) malformed(what, "the ciphertext is shorter than its authenticator");

  Secret key = derive_key(password, salt, n);
  Secret plaintext(sealed.size() - crypto_secretbox_MACBYTES);
  if (crypto_secretbox_open_easy(plaintext.data(), reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                                 reinterpret_cast<const unsigned char*>(nonce.data()), key.data()) != 0)
    throw Error(ErrorKind::Input, fmt::format("{}: wrong password, or the encrypted key was altered", what),
                "check COSIGN_PASSWORD or --password-file");
  return plaintext;
}

}  // namespace sealift::sign
