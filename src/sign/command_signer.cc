#include "sign/command_signer.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
// environ's own declaration (C linkage) comes before the one below: libstdc++ happened to include
// it, libc++ (the portable build) does not, and in a unity build unistd.h later clashed with it.
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "util/encoding.h"
#include "util/error.h"
#include "util/process.h"

extern char** environ;

namespace sealift::sign {

namespace {

constexpr size_t kMaxSignatureOutput = 64 * 1024;

// What KMS clients read for their endpoint and credentials; the rest of sealift's environment
// (COSIGN_PASSWORD, a PIN) is not the command's business.
bool passed_to_signer(std::string_view name) {
  for (std::string_view prefix : {"VAULT_", "BAO_", "AWS_", "GOOGLE_", "CLOUDSDK_", "AZURE_", "SEALIFT_SIGNER_"})
    if (name.starts_with(prefix)) return true;
  return false;
}

bool is_base64_text(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'))
      return false;
  return true;
}

bool is_der_signature(std::string_view sig) {
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  bool whole = parsed && p == reinterpret_cast<const unsigned char*>(sig.data()) + sig.size();
  ECDSA_SIG_free(parsed);
  ERR_clear_error();
  return whole;
}

// Raw r||s (IEEE P1363, what Azure Key Vault and PKCS#11 answer) as the DER cosign stores.
std::string p1363_to_der(std::string_view raw) {
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || !ECDSA_SIG_set0(sig.get(), r, s)) {
    BN_free(r);
    BN_free(s);
    throw Error(ErrorKind::Internal, "OpenSSL failed to encode an ECDSA signature");
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  std::string der(static_cast<size_t>(len > 0 ? len : 0), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (len <= 0 || i2d_ECDSA_SIG(sig.get(), &p) != len)
    throw Error(ErrorKind::Internal, "OpenSSL failed to encode an ECDSA signature");
  return der;
}

}  // namespace

std::vector<std::string> split_command_line(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word)), word.clear(), in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (++i == line.size()) throw Error(ErrorKind::Usage, "--signer-command ends with a backslash");
      word += line[i];
    } else if (c == '\'' || c == '"') {
      size_t end = line.find(c, i + 1);
      if (c == '"') {
        // A backslash inside double quotes escapes the next character, as in a shell.
        for (end = i + 1; end < line.size() && line[end] != '"'; ++end) {
          if (line[end] == '\\' && end + 1 < line.size()) ++end;
          word += line[end];
        }
      } else if (end != std::string_view::npos) {
        word.append(line.substr(i + 1, end - i - 1));
      }
      if (end == std::string_view::npos || end >= line.size())
        throw Error(ErrorKind::Usage, fmt::format("--signer-command: unclosed {} quote", c));
      i = end;
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) throw Error(ErrorKind::Usage, "--signer-command is empty");
  return words;
}

CommandSigner::CommandSigner(const CommandSignerOptions& o)
    : argv_(split_command_line(o.command)),
      public_key_(o.public_key.empty()
                      ? throw Error(ErrorKind::Usage, "--signer-command needs --signer-public-key",
                                    "the signer's public key (cosign.pub) checks every signature it makes")
                      : PublicKey::from_file(o.public_key)),
      timeout_seconds_(o.timeout_seconds) {
  if (timeout_seconds_ <= 0) throw Error(ErrorKind::Usage, "--signer-timeout must be positive");
}

std::string CommandSigner::name() const { return fmt::format("the signer command {}", argv_.front()); }

std::string CommandSigner::sign_prepared(const Sha256Bytes& sha256, std::string_view message) const {
  util::ProcessOptions po;
  po.timeout_seconds = timeout_seconds_;
  po.stdin_data = type() == KeyType::EcdsaP256 ? std::string(reinterpret_cast<const char*>(sha256.data()), sha256.size())
                                               : std::string(message);
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string_view::npos && passed_to_signer(entry.substr(0, eq)))
      po.env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  util::ProcessResult r = util::run_process(argv_, po);
  std::string said = r.err.size() > 2000 ? r.err.substr(r.err.size() - 2000) : r.err;
  if (r.timed_out)
    throw Error(ErrorKind::Tool, fmt::format("{} did not answer within {} s and was stopped", name(), timeout_seconds_),
                "raise --signer-timeout if the KMS is slow");
  if (r.exit_code != 0)
    throw Error(ErrorKind::Tool, fmt::format("{} failed (exit {}): {}", name(), r.exit_code, said));
  if (r.out.size() > kMaxSignatureOutput)
    throw Error(ErrorKind::Tool, fmt::format("{} printed {} bytes: not a signature", name(), r.out.size()));
  std::string sig = r.out;
  auto first = sig.find_first_not_of(" \t\r\n");
  auto last = sig.find_last_not_of(" \t\r\n");
  std::string trimmed = first == std::string::npos ? std::string() : sig.substr(first, last - first + 1);
  if (is_base64_text(trimmed)) {
    // base64url without padding too: Azure Key Vault answers that way.
    for (char& c : trimmed) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (trimmed.size() % 4 != 0) trimmed += '=';
    try {
      sig = util::base64_decode(trimmed);
    } catch (const Error&) {
      // Not base64 after all: the raw bytes are checked below.
    }
  }
  if (sig.empty()) throw Error(ErrorKind::Tool, fmt::format("{} printed no signature", name()));
  if (type() == KeyType::EcdsaP256 && sig.size() == 64 && !is_der_signature(sig)) sig = p1363_to_der(sig);
  return sig;
}

}  // namespace sealift::sign
