#include "sign/signature.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "util/error.h"

namespace sealift::sign {

namespace {

constexpr size_t kMaxInMemoryMessage = size_t{256} << 20;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

[[noreturn]] void openssl_failure(std::string_view what) {
  ERR_clear_error();
  throw Error(ErrorKind::Internal, fmt::format("OpenSSL failed to {}", what));
}

// A message read once: its SHA-256 (all ECDSA needs) and, when an Ed25519 key is involved, the
// bytes themselves (Ed25519 signs the message, not a digest).
struct Message {
  Sha256Bytes sha256{};
  std::string bytes;
};

Sha256Bytes sha256_of(std::string_view data) {
  Sha256Bytes out{};
  if (!EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha256(), nullptr)) openssl_failure("hash");
  return out;
}

Message read_message(io::Source& src, bool keep_bytes) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || !EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr)) openssl_failure("hash");
  Message m;
  std::array<std::byte, 1 << 16> buf;
  for (;;) {
    size_t n = src.read(buf);
    if (n == 0) break;
    if (!EVP_DigestUpdate(ctx.get(), buf.data(), n)) openssl_failure("hash");
    if (keep_bytes) {
      if (m.bytes.size() + n > kMaxInMemoryMessage)
        throw Error(ErrorKind::Input, "content too large for an Ed25519 signature (over 256 MiB)",
                    "Ed25519 signs the whole content in memory; use an ECDSA P-256 key for large files");
      m.bytes.append(reinterpret_cast<const char*>(buf.data()), n);
    }
  }
  if (!EVP_DigestFinal_ex(ctx.get(), m.sha256.data(), nullptr)) openssl_failure("hash");
  return m;
}

std::string ecdsa_sign(EVP_PKEY* pkey, const Sha256Bytes& digest) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) <= 0)
    openssl_failure("sign");
  std::string sig(len, '\0');
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, digest.data(), digest.size()) <= 0)
    openssl_failure("sign");
  sig.resize(len);
  return sig;
}

bool ecdsa_verify(EVP_PKEY* pkey, const Sha256Bytes& digest, std::string_view sig) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) <= 0)
    openssl_failure("set up verification");
  int rc = EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(), digest.data(),
                           digest.size());
  ERR_clear_error();  // a malformed signature leaves a decoding error queued
  return rc == 1;
}

std::string ed25519_sign(EVP_PKEY* pkey, std::string_view message) {
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey) <= 0 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()) <= 0)
    openssl_failure("sign");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, msg, message.size()) <= 0)
    openssl_failure("sign");
  sig.resize(len);
  return sig;
}

bool ed25519_verify(EVP_PKEY* pkey, std::string_view message, std::string_view sig) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey) <= 0)
    openssl_failure("set up verification");
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  return rc == 1;
}

// Ed25519ph (RFC 8032 with SHA-512 prehash, empty context) is what cosign 2.x's `sign` produces
// with an Ed25519 key; OpenSSL 3.0 lacks it, libsodium has it.
bool ed25519ph_verify(EVP_PKEY* pkey, std::string_view message, std::string_view sig) {
  if (sig.size() != crypto_sign_ed25519_BYTES) return false;
  std::array<unsigned char, crypto_sign_ed25519_PUBLICKEYBYTES> pk{};
  size_t pk_len = pk.size();
  if (!EVP_PKEY_get_raw_public_key(pkey, pk.data(), &pk_len) || pk_len != pk.size())
    openssl_failure("read an Ed25519 public key");
  init_sodium();
  crypto_sign_ed25519ph_state st;
  crypto_sign_ed25519ph_init(&st);
  crypto_sign_ed25519ph_update(&st, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  return crypto_sign_ed25519ph_final_verify(&st, reinterpret_cast<const unsigned char*>(sig.data()), pk.data()) == 0;
}

bool verify_read(const PublicKey& key, const Message& m, std::string_view signature) {
  if (key.type() == KeyType::EcdsaP256) return ecdsa_verify(key.evp(), m.sha256, signature);
  return ed25519_verify(key.evp(), m.bytes, signature) || ed25519ph_verify(key.evp(), m.bytes, signature);
}

}  // namespace

std::string sign_with_evp(EVP_PKEY* pkey, KeyType type, const Sha256Bytes& sha256, std::string_view message) {
  if (type == KeyType::EcdsaP256) return ecdsa_sign(pkey, sha256);
  return ed25519_sign(pkey, message);
}

std::string PrivateKey::sign_prepared(const Sha256Bytes& sha256, std::string_view message) const {
  return sign_with_evp(evp(), type(), sha256, message);
}

namespace {

// Only pure Ed25519 counts here: sealift writes nothing else, and what it writes must verify
// with every cosign release.
std::string checked_signature(const Signer& signer, const Message& m) {
  std::string sig = signer.sign_prepared(m.sha256, m.bytes);
  PublicKey key = signer.public_key();
  bool good = key.type() == KeyType::EcdsaP256 ? ecdsa_verify(key.evp(), m.sha256, sig)
                                               : ed25519_verify(key.evp(), m.bytes, sig);
  if (!good)
    throw Error(ErrorKind::Integrity,
                fmt::format("{} made a signature that does not verify with its public key {}", signer.name(),
                            key.fingerprint()),
                "the signer uses another key than the public key it was given with, or answered with something "
                "that is not a signature; nothing was written");
  return sig;
}

}  // namespace

std::string sign(const Signer& signer, std::string_view message) {
  Message m;
  m.sha256 = sha256_of(message);
  if (signer.type() == KeyType::Ed25519) m.bytes = message;
  return checked_signature(signer, m);
}

std::string sign(const Signer& signer, io::Source& message) {
  return checked_signature(signer, read_message(message, signer.type() == KeyType::Ed25519));
}

bool verify(const PublicKey& key, std::string_view message, std::string_view signature) {
  if (key.type() == KeyType::EcdsaP256) return ecdsa_verify(key.evp(), sha256_of(message), signature);
  return ed25519_verify(key.evp(), message, signature) || ed25519ph_verify(key.evp(), message, signature);
}

TrustedKeys TrustedKeys::from_files(const std::vector<std::filesystem::path>& paths) {
  TrustedKeys keys;
  for (const auto& p : paths) keys.add(PublicKey::from_file(p));
  return keys;
}

namespace {

// Whoever can write `path` (besides this user and root) could plant a trusted key.
void require_private(const std::filesystem::path& path, const struct stat& st, std::string_view what) {
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || (st.st_uid != geteuid() && st.st_uid != 0))
    throw Error(ErrorKind::Usage,
                fmt::format("the trusted key {} {} is writable by other users (mode {:04o}, owner uid {})", what,
                            path.string(), st.st_mode & 07777, st.st_uid),
                "whoever can write there can make sealift trust any bundle: chmod go-w it, owned by you or root");
}

}  // namespace

void TrustedKeys::add_dir(const std::filesystem::path& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(ErrorKind::Usage, fmt::format("--key-dir {} is not a directory", dir.string()));
  require_private(dir, st, "directory");
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".pub") files.push_back(e.path());
  if (ec) throw Error(ErrorKind::Io, fmt::format("cannot list {}: {}", dir.string(), ec.message()));
  if (files.empty())
    throw Error(ErrorKind::Usage, fmt::format("--key-dir {} holds no *.pub", dir.string()),
                "put the vendor's public keys there, one cosign.pub-style file each, named *.pub");
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    if (stat(f.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      throw Error(ErrorKind::Usage, fmt::format("{} is not a regular file", f.string()));
    require_private(f, st, "file");
    add(PublicKey::from_file(f));
  }
}

std::string TrustedKeys::fingerprints() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k.fingerprint());
  return fmt::format("{}", fmt::join(out, ", "));
}

void TrustedKeys::require_keys() const {
  if (keys_.empty())
    throw Error(ErrorKind::Usage, "no trusted public key to verify signatures with",
                "pass the vendor's cosign.pub with --key");
}

const PublicKey* TrustedKeys::signer_of(std::string_view message, std::string_view signature) const {
  require_keys();
  for (const auto& k : keys_)
    if (verify(k, message, signature)) return &k;
  return nullptr;
}

const PublicKey* TrustedKeys::signer_of(io::Source& message, std::string_view signature) const {
  require_keys();
  bool any_ed25519 = false;
  for (const auto& k : keys_) any_ed25519 |= k.type() == KeyType::Ed25519;
  Message m = read_message(message, any_ed25519);
  for (const auto& k : keys_)
    if (verify_read(k, m, signature)) return &k;
  return nullptr;
}

}  // namespace sealift::sign
