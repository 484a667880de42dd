// Signing with a key that never leaves a PKCS#11 token (an HSM, a smart card, SoftHSM2). The key
// is named by an RFC 7512 URI as cosign writes them, e.g.
//   pkcs11:token=release;object=vendor-2026?module-path=/usr/lib/softhsm/libsofthsm2.so
// libp11 loads the module, logs in and hands OpenSSL a key whose signing runs in the token.
//
// libp11 0.4.12 (Debian 12) knows RSA and EC key objects only (a token that also holds an Ed25519
// key cannot even be listed through it), so sealift signs with P-256 keys in a token. libp11 0.4.12
// cannot create EC keys either (its key generation is RSA only): generate() makes the key pair with
// one C_GenerateKeyPair through the module's own function list, and reads it back through libp11.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sign/key.h"
#include "sign/password.h"
#include "sign/secret.h"

namespace sealift::sign {

inline constexpr std::string_view kPkcs11Scheme = "pkcs11:";

inline bool is_pkcs11_uri(std::string_view key) { return key.starts_with(kPkcs11Scheme); }

// The parts of an RFC 7512 URI sealift uses. Attribute values are percent-decoded.
struct Pkcs11Uri {
  std::string token;                 // token label (required)
  std::string serial;                // token serial number, when given
  std::optional<std::string> object; // key label
  std::optional<std::string> id;     // key CKA_ID, raw bytes
  std::string module_path;           // ?module-path=
  std::filesystem::path pin_source;  // ?pin-source=file:… (or a plain path)

  // Throws Error(Usage) naming the problem: not a pkcs11: URI, no token, no object or id, a
  // type other than private, a pin-value (a PIN on the command line is visible to every user of
  // the machine), an attribute sealift does not know.
  static Pkcs11Uri parse(std::string_view uri);
};

struct Pkcs11Options {
  // --pkcs11-module; else the URI's module-path; else COSIGN_PKCS11_MODULE_PATH.
  std::filesystem::path module;
  // The PIN: --pin-file (pin.password_file), else the URI's pin-source, else COSIGN_PKCS11_PIN,
  // else a prompt on the terminal.
  PasswordOptions pin{.password_file = {},
                      .confirm = false,
                      .env_var = "COSIGN_PKCS11_PIN",
                      .what = "PIN",
                      .prompt = "Enter the PIN of the token: ",
                      .confirm_prompt = "Enter the PIN again: "};
};

class Pkcs11Key final : public Signer {
 public:
  // Loads the module, finds the token, logs in and finds the private key object; the public key
  // is the token's public key object of the same key (or what the private object carries).
  // Throws Error(Usage) for a missing module or PIN, Error(Remote) naming the token when the
  // token refuses the PIN, Error(Input) when the token or key object is not there or is not a
  // P-256 key (an RSA key is refused by name).
  static std::unique_ptr<Pkcs11Key> open(std::string_view uri, const Pkcs11Options& options);
  // The public key of the object `uri` names, without logging in when the token allows it (a
  // public key object is readable without the PIN); otherwise as open() does.
  static PublicKey read_public_key(std::string_view uri, const Pkcs11Options& options);
  // Creates a P-256 key pair in the token: the private key sensitive, never extractable, signing
  // only; labelled with the URI's object= and given its id= (else 8 random bytes), so that --key
  // with the same URI signs with it. Logs in as open() does. Refuses (Error(Usage)) when the token
  // already holds a key with that label or id, so a key in use is never shadowed. Returns the
  // public key as libp11 reads it back from the token; if libp11 cannot, the new pair is removed
  // again and the error says why (a token that also holds keys libp11 0.4.12 cannot list).
  static PublicKey generate(std::string_view uri, const Pkcs11Options& options);

  ~Pkcs11Key() override;
  Pkcs11Key(const Pkcs11Key&) = delete;
  Pkcs11Key& operator=(const Pkcs11Key&) = delete;

  KeyType type() const override { return KeyType::EcdsaP256; }
  PublicKey public_key() const override { return public_key_; }
  std::string name() const override { return name_; }
  std::string sign_prepared(const Sha256Bytes& sha256, std::string_view message) const override;

 private:
  struct Session;
  // Logs in to the token `s` found and finds the private key `u` names.
  static std::unique_ptr<Pkcs11Key> open_session(const Pkcs11Uri& u, std::unique_ptr<Session> s, const Secret& pin);
  Pkcs11Key(std::unique_ptr<Session> session, PublicKey public_key, std::string name);
  std::unique_ptr<Session> session_;
  PublicKey public_key_;
  std::string name_;
};

}  // namespace sealift::sign
