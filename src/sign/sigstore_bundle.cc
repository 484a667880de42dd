#include "sign/sigstore_bundle.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/error.h"

namespace sealift::sign {

namespace {

using nlohmann::ordered_json;

[[noreturn]] void refuse(std::string_view name, const std::string& problem) {
  throw Error(ErrorKind::Integrity, fmt::format("{}: sigstore bundle: {}", name, problem),
              "the signature was altered, or made by another key or tool than the one given");
}

std::string raw_sha256(std::string_view bytes) {
  const oci::Digest digest = oci::Digest::of(bytes);
  const std::string_view hex = digest.hex();
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string raw;
  raw.reserve(32);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) raw.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  return raw;
}

// The in-toto Statement cosign v3 signs: one subject (the digest), no name; a signature's
// predicate is empty.
std::string statement(const oci::Digest& subject, std::string_view predicate_type, const ordered_json& predicate) {
  ordered_json j;
  j["_type"] = kInTotoStatementType;
  j["subject"] = ordered_json::array({{{"digest", {{"sha256", std::string(subject.hex())}}}}});
  j["predicateType"] = predicate_type;
  j["predicate"] = predicate;
  return j.dump();
}

const nlohmann::json& member(const nlohmann::json& j, const char* key, std::string_view name, std::string_view where) {
  if (!j.is_object() || !j.contains(key)) refuse(name, fmt::format("{}{} is missing", where, key));
  return j.at(key);
}

std::string text(const nlohmann::json& j, const char* key, std::string_view name, std::string_view where) {
  const auto& v = member(j, key, name, where);
  if (!v.is_string()) refuse(name, fmt::format("{}{} must be a string", where, key));
  return v.get<std::string>();
}

std::string decode(const std::string& b64, std::string_view name, std::string_view what) {
  try {
    return util::base64_decode(b64);
  } catch (const Error& e) {
    refuse(name, fmt::format("{} is not base64: {}", what, e.what()));
  }
}

}  // namespace

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  return fmt::format("DSSEv1 {} {} {} {}", payload_type.size(), payload_type, payload.size(), payload);
}

namespace {

SigstoreSignature sign_statement(const Signer& key, const oci::Descriptor& subject, std::string_view created,
                                 std::string_view predicate_type, const ordered_json& predicate,
                                 const std::map<std::string, std::string>& annotations) {
  std::string payload = statement(subject.digest, predicate_type, predicate);
  std::string signature = sign(key, dsse_pae(kInTotoPayloadType, payload));
  ordered_json b;
  b["mediaType"] = kSigstoreBundleMediaType;
  b["verificationMaterial"] = {{"publicKey", {{"hint", util::base64_encode(raw_sha256(key.public_key().der()))}}}};
  b["dsseEnvelope"] = {{"payload", util::base64_encode(payload)},
                       {"payloadType", kInTotoPayloadType},
                       {"signatures", ordered_json::array({{{"sig", util::base64_encode(signature)}}})}};
  SigstoreSignature out;
  out.bundle = b.dump();

  oci::Descriptor config;
  config.media_type = kEmptyConfigMediaType;
  config.digest = oci::Digest::of(kEmptyConfig);
  config.size = static_cast<int64_t>(kEmptyConfig.size());
  oci::Descriptor layer;
  layer.media_type = kSigstoreBundleMediaType;
  layer.digest = oci::Digest::of(out.bundle);
  layer.size = static_cast<int64_t>(out.bundle.size());
  oci::Descriptor subj;
  subj.media_type = subject.media_type;
  subj.digest = subject.digest;
  subj.size = subject.size;
  ordered_json m;
  m["schemaVersion"] = 2;
  m["mediaType"] = oci::media::kOciManifest;
  m["artifactType"] = kSigstoreBundleMediaType;
  m["config"] = config.to_json();
  m["layers"] = ordered_json::array({layer.to_json()});
  m["subject"] = subj.to_json();
  m["annotations"] = {{kBundleContentAnnotation, "dsse-envelope"},
                      {kBundlePredicateTypeAnnotation, predicate_type},
                      {kCreatedAnnotation, created}};
  for (const auto& [k, v] : annotations) m["annotations"][k] = v;
  out.manifest = m.dump();
  return out;
}

}  // namespace

std::string key_hint_fingerprint(std::string_view bundle_json) {
  try {
    nlohmann::json b = nlohmann::json::parse(bundle_json);
    const std::string hint = b.at("verificationMaterial").at("publicKey").at("hint").get<std::string>();
    std::string raw = util::base64_decode(hint);
    if (raw.size() != 32) return "";
    return "sha256:" + util::hex_encode(raw);
  } catch (const std::exception&) {
    return "";
  }
}

SigstoreSignature sign_sigstore(const Signer& key, const oci::Descriptor& subject, std::string_view created) {
  return sign_statement(key, subject, created, kCosignSignPredicateType, ordered_json::object(), {});
}

SigstoreSignature sign_attestation(const Signer& key, const oci::Descriptor& subject, std::string_view created,
                                   std::string_view predicate_type, std::string_view predicate,
                                   const std::map<std::string, std::string>& annotations) {
  ordered_json p;
  try {
    p = ordered_json::parse(predicate);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Input, fmt::format("the {} predicate to sign is not valid JSON: {}", predicate_type, e.what()));
  }
  return sign_statement(key, subject, created, predicate_type, p, annotations);
}

bool is_signature_referrer(const oci::Descriptor& d) {
  if (d.artifact_type != kSigstoreBundleMediaType) return false;
  auto it = d.annotations.find(std::string(kBundlePredicateTypeAnnotation));
  return it == d.annotations.end() || it->second == kCosignSignPredicateType;
}

bool is_attestation_referrer(const oci::Descriptor& d) {
  if (d.artifact_type != kSigstoreBundleMediaType) return false;
  auto it = d.annotations.find(std::string(kBundlePredicateTypeAnnotation));
  return it == d.annotations.end() || it->second != kCosignSignPredicateType;
}

std::string announced_predicate_type(const oci::Manifest& referrer) {
  const auto& ann = referrer.annotations();
  auto it = ann.find(std::string(kBundlePredicateTypeAnnotation));
  return it == ann.end() ? std::string() : it->second;
}

namespace {

oci::Descriptor check_bundle_referrer(const oci::Manifest& referrer, const oci::Descriptor& subject,
                                      std::string_view predicate_type, std::string_view name, std::string_view what) {
  auto bad = [&](const std::string& problem) {
    throw Error(ErrorKind::Integrity, fmt::format("{}: {} referrer {}: {}", name, what, referrer.digest().str(), problem),
                fmt::format("the {} was altered, or is not a cosign {}", what, what));
  };
  if (referrer.media_type() != oci::media::kOciManifest) bad(fmt::format("media type {}, not an OCI image manifest", referrer.media_type()));
  if (referrer.artifact_type() != kSigstoreBundleMediaType)
    bad(fmt::format("artifact type \"{}\", not {}", referrer.artifact_type(), kSigstoreBundleMediaType));
  const oci::Descriptor& config = referrer.config();
  if (config.media_type != kEmptyConfigMediaType || config.digest != oci::Digest::of(kEmptyConfig) || config.size != 2)
    bad("its config is not the OCI empty descriptor");
  if (referrer.layers().size() != 1) bad(fmt::format("{} layers, not exactly one", referrer.layers().size()));
  const oci::Descriptor& layer = referrer.layers().front();
  if (layer.media_type != kSigstoreBundleMediaType) bad(fmt::format("its layer has media type {}", layer.media_type));
  const auto& s = referrer.subject();
  if (!s) bad("it has no subject");
  if (s->digest != subject.digest || s->size != subject.size || s->media_type != subject.media_type)
    bad(fmt::format("its subject is {} ({} bytes, {}), not {} ({} bytes, {})", s->digest.str(), s->size, s->media_type,
                    subject.digest.str(), subject.size, subject.media_type));
  const auto& ann = referrer.annotations();
  if (auto it = ann.find(std::string(kBundlePredicateTypeAnnotation)); it != ann.end() && it->second != predicate_type)
    bad(predicate_type == kCosignSignPredicateType
            ? fmt::format("predicate type \"{}\" is not a cosign signature's ({})", it->second, kCosignSignPredicateType)
            : fmt::format("predicate type \"{}\" is not {}", it->second, predicate_type));
  if (auto it = ann.find(std::string(kBundleContentAnnotation)); it != ann.end() && it->second != "dsse-envelope")
    bad(fmt::format("content \"{}\" is not a DSSE envelope", it->second));
  return layer;
}

// The checks shared by signatures and attestations: the DSSE signature over the PAE by one of
// `trusted` before anything in the payload is read, then the statement's type, predicate type and
// subject.
VerifiedAttestation verify_statement(std::string_view bundle_json, const oci::Digest& subject_digest,
                                     std::string_view predicate_type, bool accept_v01, const TrustedKeys& trusted,
                                     std::string_view name) {
  if (trusted.empty()) throw Error(ErrorKind::Usage, "no public key given to verify signatures", "pass --key cosign.pub");
  nlohmann::json b;
  try {
    b = nlohmann::json::parse(bundle_json);
  } catch (const nlohmann::json::exception& e) {
    refuse(name, fmt::format("not valid JSON: {}", e.what()));
  }
  if (!b.is_object()) refuse(name, "not a JSON object");
  std::string media_type = text(b, "mediaType", name, "");
  if (media_type != kSigstoreBundleMediaType && media_type != "application/vnd.dev.sigstore.bundle+json;version=0.3")
    refuse(name, fmt::format("media type \"{}\" is not a Sigstore bundle v0.3", media_type));
  member(b, "verificationMaterial", name, "");
  if (!b.contains("dsseEnvelope"))
    refuse(name, "it holds no DSSE envelope (a cosign image signature is an in-toto statement in DSSE)");
  const auto& env = b.at("dsseEnvelope");
  std::string payload_type = text(env, "payloadType", name, "dsseEnvelope.");
  if (payload_type != kInTotoPayloadType)
    refuse(name, fmt::format("payload type \"{}\" is not {}", payload_type, kInTotoPayloadType));
  std::string payload = decode(text(env, "payload", name, "dsseEnvelope."), name, "dsseEnvelope.payload");
  const auto& sigs = member(env, "signatures", name, "dsseEnvelope.");
  if (!sigs.is_array() || sigs.empty()) refuse(name, "dsseEnvelope.signatures is empty");

  // The signature first: nothing in an unsigned payload is looked at.
  const std::string pae = dsse_pae(payload_type, payload);
  const PublicKey* signer = nullptr;
  for (size_t i = 0; i < sigs.size() && !signer; ++i) {
    std::string sig = decode(text(sigs[i], "sig", name, fmt::format("dsseEnvelope.signatures[{}].", i)), name,
                             fmt::format("dsseEnvelope.signatures[{}].sig", i));
    signer = trusted.signer_of(pae, sig);
  }
  if (!signer)
    refuse(name, fmt::format("no signature in its DSSE envelope was made by {}",
                             trusted.keys().size() == 1 ? fmt::format("the trusted key {}", trusted.keys()[0].fingerprint())
                                                        : fmt::format("any of the {} trusted keys", trusted.keys().size())));

  nlohmann::json st;
  try {
    st = nlohmann::json::parse(payload);
  } catch (const nlohmann::json::exception& e) {
    refuse(name, fmt::format("its signed statement is not valid JSON: {}", e.what()));
  }
  std::string type = text(st, "_type", name, "statement.");
  if (type != kInTotoStatementType && !(accept_v01 && type == kInTotoStatementTypeV01))
    refuse(name, fmt::format("statement type \"{}\" is not {}", type, kInTotoStatementType));
  std::string got_predicate_type = text(st, "predicateType", name, "statement.");
  if (got_predicate_type != predicate_type)
    refuse(name, predicate_type == kCosignSignPredicateType
                     ? fmt::format("predicate type \"{}\" is not a cosign signature's ({}): an attestation is not a signature",
                                   got_predicate_type, kCosignSignPredicateType)
                     : fmt::format("predicate type \"{}\" is not {}", got_predicate_type, predicate_type));
  const auto& subjects = member(st, "subject", name, "statement.");
  if (!subjects.is_array()) refuse(name, "statement.subject must be an array");
  for (const auto& s : subjects) {
    if (!s.is_object() || !s.contains("digest") || !s.at("digest").is_object()) continue;
    const auto& d = s.at("digest");
    if (d.contains("sha256") && d.at("sha256").is_string() && d.at("sha256").get<std::string>() == subject_digest.hex()) {
      VerifiedAttestation out;
      out.signer = signer;
      if (st.contains("predicate")) out.predicate = st.at("predicate").dump();
      return out;
    }
  }
  refuse(name, fmt::format("its signed statement does not name {}", subject_digest.str()));
}

}  // namespace

oci::Descriptor check_signature_referrer(const oci::Manifest& referrer, const oci::Descriptor& subject,
                                         std::string_view name) {
  return check_bundle_referrer(referrer, subject, kCosignSignPredicateType, name, "signature");
}

oci::Descriptor check_attestation_referrer(const oci::Manifest& referrer, const oci::Descriptor& subject,
                                           std::string_view predicate_type, std::string_view name) {
  return check_bundle_referrer(referrer, subject, predicate_type, name, "attestation");
}

const PublicKey& verify_sigstore_bundle(std::string_view bundle_json, const oci::Digest& subject_digest,
                                        const TrustedKeys& trusted, std::string_view name) {
  return *verify_statement(bundle_json, subject_digest, kCosignSignPredicateType, false, trusted, name).signer;
}

VerifiedAttestation verify_attestation_bundle(std::string_view bundle_json, const oci::Digest& subject_digest,
                                              std::string_view predicate_type, const TrustedKeys& trusted,
                                              std::string_view name) {
  return verify_statement(bundle_json, subject_digest, predicate_type, true, trusted, name);
}

}  // namespace sealift::sign
