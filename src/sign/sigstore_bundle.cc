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

// The in-toto Statement cosign v3 signs for an image: one subject (the digest), no name, an empty
// predicate.
std::string statement(const oci::Digest& subject) {
  ordered_json j;
  j["_type"] = kInTotoStatementType;
  j["subject"] = ordered_json::array({{{"digest", {{"sha256", std::string(subject.hex())}}}}});
  j["predicateType"] = kCosignSignPredicateType;
  j["predicate"] = ordered_json::object();
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

SigstoreSignature sign_sigstore(const PrivateKey& key, const oci::Descriptor& subject, std::string_view created) {
  std::string payload = statement(subject.digest);
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
                      {kBundlePredicateTypeAnnotation, kCosignSignPredicateType},
                      {kCreatedAnnotation, created}};
  out.manifest = m.dump();
  return out;
}

bool is_signature_referrer(const oci::Descriptor& d) {
  if (d.artifact_type != kSigstoreBundleMediaType) return false;
  auto it = d.annotations.find(std::string(kBundlePredicateTypeAnnotation));
  return it == d.annotations.end() || it->second == kCosignSignPredicateType;
}

oci::Descriptor check_signature_referrer(const oci::Manifest& referrer, const oci::Descriptor& subject,
                                         std::string_view name) {
  auto bad = [&](const std::string& problem) {
    throw Error(ErrorKind::Integrity, fmt::format("{}: signature referrer {}: {}", name, referrer.digest().str(), problem),
                "the signature was altered, or is not a cosign signature");
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
  if (auto it = ann.find(std::string(kBundlePredicateTypeAnnotation)); it != ann.end() && it->second != kCosignSignPredicateType)
    bad(fmt::format("predicate type \"{}\" is not a cosign signature's ({})", it->second, kCosignSignPredicateType));
  if (auto it = ann.find(std::string(kBundleContentAnnotation)); it != ann.end() && it->second != "dsse-envelope")
    bad(fmt::format("content \"{}\" is not a DSSE envelope", it->second));
  return layer;
}

const PublicKey& verify_sigstore_bundle(std::string_view bundle_json, const oci::Digest& subject_digest,
                                        const TrustedKeys& trusted, std::string_view name) {
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
  if (type != kInTotoStatementType) refuse(name, fmt::format("statement type \"{}\" is not {}", type, kInTotoStatementType));
  std::string predicate_type = text(st, "predicateType", name, "statement.");
  if (predicate_type != kCosignSignPredicateType)
    refuse(name, fmt::format("predicate type \"{}\" is not a cosign signature's ({}): an attestation is not a signature",
                             predicate_type, kCosignSignPredicateType));
  const auto& subjects = member(st, "subject", name, "statement.");
  if (!subjects.is_array()) refuse(name, "statement.subject must be an array");
  for (const auto& s : subjects) {
    if (!s.is_object() || !s.contains("digest") || !s.at("digest").is_object()) continue;
    const auto& d = s.at("digest");
    if (d.contains("sha256") && d.at("sha256").is_string() && d.at("sha256").get<std::string>() == subject_digest.hex())
      return *signer;
  }
  refuse(name, fmt::format("its signed statement does not name {}", subject_digest.str()));
}

}  // namespace sealift::sign
