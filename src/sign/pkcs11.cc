#include "sign/pkcs11.h"

#include <dlfcn.h>
#include <libp11.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sign/pem.h"
#include "sign/signature.h"
#include "util/encoding.h"
#include "util/error.h"

namespace sealift::sign {

namespace fs = std::filesystem;

namespace {

// What libp11 0.4.12 does with key types it does not know: it cannot list a token that holds one.
constexpr const char* kUnknownKeyTypes =
    "libp11 0.4.12 knows RSA and EC keys only: a token holding an Ed25519 (or other) key cannot be listed "
    "through it; sign with a P-256 key in a token without such keys";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, std::string_view uri) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) throw Error(ErrorKind::Usage, fmt::format("{}: a '%' not followed by two hex digits", uri));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

std::string describe(const Pkcs11Uri& u) {
  std::string key = u.object ? fmt::format("object \"{}\"", *u.object) : fmt::format("id {}", util::hex_encode(*u.id));
  return fmt::format("token \"{}\", {}", u.token, key);
}

std::string describe_type(int evp_type) {
  switch (evp_type) {
    case EVP_PKEY_RSA:
      return "an RSA key";
    case EVP_PKEY_EC:
      return "an EC key";
    default:
      return fmt::format("a key of type {}", evp_type);
  }
}

PublicKey public_key_of(EVP_PKEY* pkey, std::string_view what) {
  int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) throw Error(ErrorKind::Input, fmt::format("{}: cannot read the public key: {}", what, openssl_reason()));
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_PUBKEY(pkey, &p);
  return PublicKey::from_pem(pem_encode(kPublicKeyLabel, der), what);
}

}  // namespace

Pkcs11Uri Pkcs11Uri::parse(std::string_view uri) {
  if (!is_pkcs11_uri(uri)) throw Error(ErrorKind::Usage, fmt::format("{} is not a pkcs11: URI", uri));
  std::string_view rest = uri.substr(kPkcs11Scheme.size());
  std::string_view path = rest.substr(0, rest.find('?'));
  std::string_view query = path.size() < rest.size() ? rest.substr(path.size() + 1) : std::string_view();
  Pkcs11Uri u;
  bool have_token = false;
  for (std::string_view attr : split(path, ';')) {
    size_t eq = attr.find('=');
    if (eq == std::string_view::npos) throw Error(ErrorKind::Usage, fmt::format("{}: \"{}\" is not name=value", uri, attr));
    std::string_view name = attr.substr(0, eq);
    std::string value = percent_decode(attr.substr(eq + 1), uri);
    if (name == "token") u.token = value, have_token = true;
    else if (name == "serial") u.serial = value;
    else if (name == "object") u.object = value;
    else if (name == "id") u.id = value;
    else if (name == "type") {
      if (value != "private")
        throw Error(ErrorKind::Usage, fmt::format("{}: type={}: signing needs the private key (type=private)", uri, value));
    } else if (name == "manufacturer" || name == "model" || name == "library-manufacturer" ||
               name == "library-description" || name == "library-version") {
      // Describe the token or module; the token label and serial already pick it.
    } else
      throw Error(ErrorKind::Usage, fmt::format("{}: unsupported attribute \"{}\"", uri, name),
                  "sealift reads token, serial, object, id and type, and the query's module-path and pin-source");
  }
  for (std::string_view attr : split(query, '&')) {
    size_t eq = attr.find('=');
    std::string_view name = attr.substr(0, eq);
    std::string value = eq == std::string_view::npos ? std::string() : percent_decode(attr.substr(eq + 1), uri);
    if (name == "module-path") u.module_path = value;
    else if (name == "pin-source") u.pin_source = value.starts_with("file:") ? value.substr(5) : value;
    else if (name == "pin-value")
      throw Error(ErrorKind::Usage, fmt::format("pkcs11 URI for token \"{}\": pin-value is refused", u.token),
                  "a PIN on the command line is visible to every user of the machine; use --pin-file, "
                  "COSIGN_PKCS11_PIN or the prompt");
    else
      throw Error(ErrorKind::Usage, fmt::format("{}: unsupported query attribute \"{}\"", uri, name),
                  "sealift reads module-path and pin-source");
  }
  if (!have_token || u.token.empty())
    throw Error(ErrorKind::Usage, fmt::format("{}: no token=", uri), "name the token by its label: pkcs11:token=LABEL;object=KEY");
  if (!u.object && !u.id)
    throw Error(ErrorKind::Usage, fmt::format("{}: no object= or id=", uri), "name the key by its label: object=KEY");
  return u;
}

namespace {

fs::path module_of(const Pkcs11Uri& u, const Pkcs11Options& options) {
  fs::path module = options.module;
  if (module.empty()) module = u.module_path;
  if (module.empty())
    if (const char* env = std::getenv("COSIGN_PKCS11_MODULE_PATH")) module = env;
  if (module.empty())
    throw Error(ErrorKind::Usage, fmt::format("token \"{}\": no PKCS#11 module", u.token),
                "name the token's module with --pkcs11-module, the URI's module-path or COSIGN_PKCS11_MODULE_PATH");
  if (!fs::is_regular_file(module))
    throw Error(ErrorKind::Usage, fmt::format("PKCS#11 module {} does not exist", module.string()));
  return module;
}

Secret read_pin(const Pkcs11Uri& u, const Pkcs11Options& options) {
  PasswordOptions pin = options.pin;
  if (pin.password_file.empty()) pin.password_file = u.pin_source;
  pin.prompt = fmt::format("Enter the PIN of token \"{}\": ", u.token);
  return read_password(pin);
}

[[noreturn]] void token_not_found(const Pkcs11Uri& u, std::string_view module, const std::vector<std::string>& seen) {
  throw Error(ErrorKind::Input,
              fmt::format("PKCS#11 token \"{}\" not found in {} (tokens there: {})", u.token, module,
                          seen.empty() ? "none" : fmt::format("\"{}\"", fmt::join(seen, "\", \""))),
              "plug the token in, or name it by its label with token=");
}

std::string padded_field(const unsigned char* field, size_t size) {
  std::string s(reinterpret_cast<const char*>(field), size);
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

// The module's own PKCS#11 function list, for the one operation libp11 0.4.12 lacks: generating an
// EC key pair in the token. Everything else goes through libp11. Not used at the same time as a
// libp11 context on the same module (each finalizes the module when it is done).
class Cryptoki {
 public:
  Cryptoki(const fs::path& module, const Pkcs11Uri& u) : module_(module.string()), token_(u.token) {
    lib_ = dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) throw Error(ErrorKind::Input, fmt::format("cannot load the PKCS#11 module {}: {}", module_, dlerror()));
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib_, "C_GetFunctionList"));
    if (!get || get(&f_) != CKR_OK || !f_) {
      dlclose(lib_);
      throw Error(ErrorKind::Input, fmt::format("{} is not a PKCS#11 module (no C_GetFunctionList)", module_));
    }
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    if (CK_RV rv = f_->C_Initialize(&args); rv != CKR_OK) {
      dlclose(lib_);
      throw Error(ErrorKind::Input, fmt::format("{}: C_Initialize failed (CKR 0x{:x})", module_, rv));
    }
    CK_SLOT_ID slot = find_slot(u);
    check(f_->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session_), "open a session");
  }
  ~Cryptoki() {
    if (logged_in_) f_->C_Logout(session_);
    if (session_ != CK_INVALID_HANDLE) f_->C_CloseSession(session_);
    f_->C_Finalize(nullptr);
    dlclose(lib_);
  }
  Cryptoki(const Cryptoki&) = delete;
  Cryptoki& operator=(const Cryptoki&) = delete;

  void login(const Secret& pin) {
    std::string text(pin.view());
    CK_RV rv = f_->C_Login(session_, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(text.data()), text.size());
    OPENSSL_cleanse(text.data(), text.size());
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED || rv == CKR_PIN_LEN_RANGE)
      throw Error(ErrorKind::Remote, fmt::format("PKCS#11 token \"{}\" refused the PIN (CKR 0x{:x})", token_, rv),
                  "check the PIN (--pin-file, COSIGN_PKCS11_PIN); tokens lock after a few wrong PINs");
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) check(rv, "log in");
    logged_in_ = true;
  }

  // Whether an object of any class has this attribute value (a label or an id).
  bool has_object(CK_ATTRIBUTE_TYPE type, const std::string& value) {
    CK_ATTRIBUTE match[] = {{type, const_cast<char*>(value.data()), value.size()}};
    return !find(match, 1).empty();
  }

  // A P-256 pair, stored in the token; the private half sensitive, not extractable, signing only.
  void generate_p256(const std::string& label, const std::string& id) {
    // DER of the named curve prime256v1 (OID 1.2.840.10045.3.1.7), as CKA_EC_PARAMS takes it.
    static const unsigned char kP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    auto text = [](const std::string& s) { return const_cast<char*>(s.data()); };
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, sizeof yes},       {CKA_VERIFY, &yes, sizeof yes},
        {CKA_EC_PARAMS, const_cast<unsigned char*>(kP256), sizeof kP256},
        {CKA_LABEL, text(label), label.size()}, {CKA_ID, text(id), id.size()},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes}, {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no}, {CKA_SIGN, &yes, sizeof yes},    {CKA_DECRYPT, &no, sizeof no},
        {CKA_LABEL, text(label), label.size()}, {CKA_ID, text(id), id.size()},
    };
    CK_OBJECT_HANDLE pub_handle = CK_INVALID_HANDLE, priv_handle = CK_INVALID_HANDLE;
    check(f_->C_GenerateKeyPair(session_, &mech, pub, std::size(pub), priv, std::size(priv), &pub_handle, &priv_handle),
          "generate a P-256 key pair");
  }

  // Removes every object with this label and id (both halves of a pair this class made).
  void destroy_all(const std::string& label, const std::string& id) {
    CK_ATTRIBUTE match[] = {{CKA_LABEL, const_cast<char*>(label.data()), label.size()},
                            {CKA_ID, const_cast<char*>(id.data()), id.size()}};
    for (CK_OBJECT_HANDLE object : find(match, 8)) check(f_->C_DestroyObject(session_, object), "remove the new key");
  }

 private:
  CK_SLOT_ID find_slot(const Pkcs11Uri& u) {
    CK_ULONG n = 0;
    check(f_->C_GetSlotList(CK_TRUE, nullptr, &n), "list the slots");
    std::vector<CK_SLOT_ID> slots(n);
    check(f_->C_GetSlotList(CK_TRUE, slots.data(), &n), "list the slots");
    slots.resize(n);
    std::vector<std::string> seen;
    for (CK_SLOT_ID slot : slots) {
      CK_TOKEN_INFO info{};
      if (f_->C_GetTokenInfo(slot, &info) != CKR_OK || !(info.flags & CKF_TOKEN_INITIALIZED)) continue;
      std::string label = padded_field(info.label, sizeof info.label);
      seen.push_back(label);
      if (label != u.token) continue;
      if (!u.serial.empty() && padded_field(info.serialNumber, sizeof info.serialNumber) != u.serial) continue;
      return slot;
    }
    token_not_found(u, module_, seen);
  }
  // Up to `most` objects matching every attribute of `match`.
  template <size_t N>
  std::vector<CK_OBJECT_HANDLE> find(CK_ATTRIBUTE (&match)[N], CK_ULONG most) {
    check(f_->C_FindObjectsInit(session_, match, N), "search the token");
    std::vector<CK_OBJECT_HANDLE> found(most);
    CK_ULONG n = 0;
    CK_RV rv = f_->C_FindObjects(session_, found.data(), most, &n);
    f_->C_FindObjectsFinal(session_);
    check(rv, "search the token");
    found.resize(n);
    return found;
  }
  void check(CK_RV rv, std::string_view what) const {
    if (rv != CKR_OK)
      throw Error(ErrorKind::Remote, fmt::format("PKCS#11 token \"{}\": cannot {} (CKR 0x{:x})", token_, what, rv));
  }

  std::string module_, token_;
  void* lib_ = nullptr;
  CK_FUNCTION_LIST_PTR f_ = nullptr;
  CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
  bool logged_in_ = false;
};

}  // namespace

// The module, its slots and the logged-in token, released in reverse order.
struct Pkcs11Key::Session {
  PKCS11_CTX* ctx = nullptr;
  bool loaded = false;
  PKCS11_SLOT* slots = nullptr;
  unsigned int nslots = 0;
  PKCS11_SLOT* slot = nullptr;
  EVP_PKEY* key = nullptr;

  ~Session() {
    if (key) EVP_PKEY_free(key);
    if (slots) PKCS11_release_all_slots(ctx, slots, nslots);
    if (loaded) PKCS11_CTX_unload(ctx);
    if (ctx) PKCS11_CTX_free(ctx);
    ERR_clear_error();
  }

  // Loads the module and finds the token the URI names.
  static std::unique_ptr<Session> open(const Pkcs11Uri& u, const Pkcs11Options& options) {
    const fs::path module = module_of(u, options);
    auto s = std::make_unique<Session>();
    s->ctx = PKCS11_CTX_new();
    if (!s->ctx) throw Error(ErrorKind::Internal, "libp11: cannot create a context");
    if (PKCS11_CTX_load(s->ctx, module.c_str()) < 0)
      throw Error(ErrorKind::Input, fmt::format("cannot load the PKCS#11 module {}: {}", module.string(), openssl_reason()));
    s->loaded = true;
    if (PKCS11_enumerate_slots(s->ctx, &s->slots, &s->nslots) < 0)
      throw Error(ErrorKind::Input, fmt::format("{}: cannot list the slots: {}", module.string(), openssl_reason()));
    std::vector<std::string> seen;
    for (unsigned int i = 0; i < s->nslots; ++i) {
      PKCS11_TOKEN* t = s->slots[i].token;
      if (!t || !t->initialized || !t->label) continue;
      seen.push_back(t->label);
      if (t->label != u.token) continue;
      if (!u.serial.empty() && (!t->serialnr || t->serialnr != u.serial)) continue;
      s->slot = &s->slots[i];
      return s;
    }
    token_not_found(u, module.string(), seen);
  }

  bool matches(const Pkcs11Uri& u, const PKCS11_KEY& k) const {
    if (u.object && (!k.label || *u.object != k.label)) return false;
    if (u.id && std::string_view(reinterpret_cast<const char*>(k.id), k.id_len) != *u.id) return false;
    return true;
  }

  // The key object the URI names among `keys`, or nullptr.
  PKCS11_KEY* find(const Pkcs11Uri& u, PKCS11_KEY* keys, unsigned int n) const {
    for (unsigned int i = 0; i < n; ++i)
      if (matches(u, keys[i])) return &keys[i];
    return nullptr;
  }
};

Pkcs11Key::Pkcs11Key(std::unique_ptr<Session> session, PublicKey public_key, std::string name)
    : session_(std::move(session)), public_key_(std::move(public_key)), name_(std::move(name)) {}

Pkcs11Key::~Pkcs11Key() = default;

std::unique_ptr<Pkcs11Key> Pkcs11Key::open(std::string_view uri, const Pkcs11Options& options) {
  Pkcs11Uri u = Pkcs11Uri::parse(uri);
  std::unique_ptr<Session> s = Session::open(u, options);
  return open_session(u, std::move(s), read_pin(u, options));
}

std::unique_ptr<Pkcs11Key> Pkcs11Key::open_session(const Pkcs11Uri& u, std::unique_ptr<Session> s, const Secret& pin_value) {
  const std::string name = describe(u);
  std::string pin_text(pin_value.view());
  int rc = PKCS11_login(s->slot, 0, pin_text.c_str());
  OPENSSL_cleanse(pin_text.data(), pin_text.size());
  if (rc != 0)
    throw Error(ErrorKind::Remote, fmt::format("PKCS#11 token \"{}\" refused the PIN: {}", u.token, openssl_reason()),
                "check the PIN (--pin-file, COSIGN_PKCS11_PIN); tokens lock after a few wrong PINs");
  PKCS11_KEY* keys = nullptr;
  unsigned int n = 0;
  if (PKCS11_enumerate_keys(s->slot->token, &keys, &n) < 0)
    throw Error(ErrorKind::Input, fmt::format("{}: libp11 cannot list the token's private keys", name), kUnknownKeyTypes);
  PKCS11_KEY* key = s->find(u, keys, n);
  if (!key) throw Error(ErrorKind::Input, fmt::format("{}: no such private key in the token", name), kUnknownKeyTypes);
  int type = PKCS11_get_key_type(key);
  if (type != EVP_PKEY_EC)
    throw Error(ErrorKind::Input, fmt::format("{} is {}: sealift signs with ECDSA P-256 or Ed25519", name, describe_type(type)),
                "create a P-256 key in the token and name it in the URI");
  s->key = PKCS11_get_private_key(key);
  if (!s->key) throw Error(ErrorKind::Input, fmt::format("{}: cannot use the private key: {}", name, openssl_reason()));
  EVP_PKEY* pub = PKCS11_get_public_key(key);
  if (!pub)
    throw Error(ErrorKind::Input, fmt::format("{}: the token has no public key for it: {}", name, openssl_reason()),
                "store the public key object beside the private key (same label and id)");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pub_owner(pub, EVP_PKEY_free);
  PublicKey public_key = public_key_of(pub, name);
  return std::unique_ptr<Pkcs11Key>(new Pkcs11Key(std::move(s), std::move(public_key), "PKCS#11 " + name));
}

PublicKey Pkcs11Key::read_public_key(std::string_view uri, const Pkcs11Options& options) {
  Pkcs11Uri u = Pkcs11Uri::parse(uri);
  {
    std::unique_ptr<Session> s = Session::open(u, options);
    PKCS11_KEY* keys = nullptr;
    unsigned int n = 0;
    if (PKCS11_enumerate_public_keys(s->slot->token, &keys, &n) == 0) {
      if (PKCS11_KEY* key = s->find(u, keys, n)) {
        int type = PKCS11_get_key_type(key);
        if (type != EVP_PKEY_EC)
          throw Error(ErrorKind::Input,
                      fmt::format("{} is {}: sealift signs with ECDSA P-256 or Ed25519", describe(u), describe_type(type)));
        EVP_PKEY* pub = PKCS11_get_public_key(key);
        if (pub) {
          std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> owner(pub, EVP_PKEY_free);
          return public_key_of(pub, describe(u));
        }
      }
    }
  }
  // Some tokens show public keys only after login.
  return open(uri, options)->public_key();
}

PublicKey Pkcs11Key::generate(std::string_view uri, const Pkcs11Options& options) {
  Pkcs11Uri u = Pkcs11Uri::parse(uri);
  if (!u.object)
    throw Error(ErrorKind::Usage, fmt::format("{}: no object=", uri), "a new key needs a label: object=NAME");
  const fs::path module = module_of(u, options);
  std::string id = u.id.value_or(std::string());
  if (id.empty()) {
    id.resize(8);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(id.data()), static_cast<int>(id.size())) != 1)
      throw Error(ErrorKind::Internal, "no random bytes for the key's id: " + openssl_reason());
  }
  const std::string name = fmt::format("token \"{}\", object \"{}\"", u.token, *u.object);
  const Secret pin = read_pin(u, options);
  {
    Cryptoki token(module, u);
    token.login(pin);
    if (token.has_object(CKA_LABEL, *u.object))
      throw Error(ErrorKind::Usage, fmt::format("{}: the token already holds an object with this label", name),
                  "choose another object= (a key in use is never replaced), or remove the old one with the token's tool");
    if (token.has_object(CKA_ID, id))
      throw Error(ErrorKind::Usage,
                  fmt::format("{}: the token already holds an object with id {}", name, util::hex_encode(id)),
                  "choose another id=, or leave id= out for a random one");
    token.generate_p256(*u.object, id);
  }
  // Read back through libp11, as --key will find it. The module is finalized in between: libp11
  // and the function list above never share it.
  Pkcs11Uri created = u;
  created.id = id;
  try {
    return open_session(created, Session::open(created, options), pin)->public_key();
  } catch (const Error& e) {
    Cryptoki token(module, u);
    token.login(pin);
    token.destroy_all(*u.object, id);
    throw Error(e.kind(), fmt::format("{}: the new key pair cannot be used through libp11 and was removed again: {}",
                                      name, e.what()));
  }
}

std::string Pkcs11Key::sign_prepared(const Sha256Bytes& sha256, std::string_view message) const {
  try {
    return sign_with_evp(session_->key, type(), sha256, message);
  } catch (const Error& e) {
    throw Error(ErrorKind::Remote, fmt::format("{}: the token did not sign: {}", name_, e.what()));
  }
}

}  // namespace sealift::sign
