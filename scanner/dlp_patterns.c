/*
 * dlp_patterns.c - pipelock's built-in DLP patterns (internal/config/
 * defaults.go, 48 entries) and its immutable core floor (core.go), as data.
 *
 * Regexes are RE2 syntax exactly as pipelock ships them; dlp.c prepends
 * "(?i)" when absent, as pipelock does.  Names and severities feed metrics
 * labels and logs, so they are kept byte for byte (reference section 3).
 */
#include "scanner/dlp_patterns.h"

#define V_NONE	SCAN_VALIDATE_NONE

/*
 * The five formats made only of character classes carry a shape (see
 * dlp_shapes() in dlp.c) and their longest match, so PCRE2 confirms them
 * only where the shape pass saw them.
 */

const struct dlp_builtin dlp_builtins[] = {
	{ "Anthropic API Key", "sk-ant-[a-zA-Z0-9\\-_]{10,}", "critical", V_NONE, 0, 0 },
	{ "OpenAI API Key", "sk-proj-[a-zA-Z0-9\\-_]{10,}", "critical", V_NONE, 0, 0 },
	{ "OpenAI Service Key", "sk-svcacct-[a-zA-Z0-9\\-]{10,}", "critical", V_NONE, 0, 0 },
	{ "Fireworks API Key", "fw_[a-zA-Z0-9]{24,}", "critical", V_NONE, 0, 0 },
	{ "Google API Key", "AIza[0-9A-Za-z\\-_]{35}", "high", V_NONE, 0, 0 },
	{ "Google OAuth Client Secret", "GOCSPX-[A-Za-z0-9_\\-]{28,}", "critical", V_NONE, 0, 0 },
	{ "Stripe Key", "[sr]k[-_](live|test)[-_][a-zA-Z0-9]{20,}", "critical", V_NONE, 0, 0 },
	{ "Stripe Webhook Secret", "whsec_[a-zA-Z0-9_\\-]{20,}", "critical", V_NONE, 0, 0 },
	{ "GitHub Token", "gh[pousr]_[A-Za-z0-9_]{36,}", "critical", V_NONE, 0, 0 },
	{ "GitHub Fine-Grained PAT", "github_pat_[a-zA-Z0-9_]{36,}", "critical", V_NONE, 0, 0 },
	{ "GitLab PAT", "glpat-[a-zA-Z0-9\\-_]{20,}", "critical", V_NONE, 0, 0 },
	{ "AWS Access ID", "(AKIA|A3T|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16,}", "critical", V_NONE, 0, 0 },
	{ "AWS Secret Key", "(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|secret.?access.?key|SecretAccessKey)\\s*[\"'=:\\s]{1,5}\\s*[A-Za-z0-9/+=]{40}", "critical", V_NONE, 0, 0 },
	{ "Google OAuth Token", "ya29\\.[a-zA-Z0-9_-]{20,}", "critical", V_NONE, 0, 0 },
	{ "Slack Token", "xox[bpras]-[0-9a-zA-Z-]{15,}", "critical", V_NONE, 0, 0 },
	{ "Slack App Token", "xapp-[0-9]+-[A-Za-z0-9_]+-[0-9]+-[a-f0-9]+", "critical", V_NONE, 0, 0 },
	{ "Discord Bot Token", "[MN][A-Za-z0-9]{23,}\\.[A-Za-z0-9\\-_]{6}\\.[A-Za-z0-9\\-_]{27,}", "critical", V_NONE,
	  DLP_SHAPE_DISCORD, 0 },
	{ "Twilio API Key", "SK[a-f0-9]{32}", "high", V_NONE, 0, 0 },
	{ "SendGrid API Key", "SG\\.[a-zA-Z0-9_-]{22}\\.[a-zA-Z0-9_-]{43}", "critical", V_NONE, 0, 0 },
	{ "Mailgun API Key", "key-[a-zA-Z0-9]{32}", "high", V_NONE, 0, 0 },
	{ "New Relic API Key", "NRAK-[A-Z0-9]{27,}", "critical", V_NONE, 0, 0 },
	{ "Hugging Face Token", "hf_[A-Za-z0-9]{20,}", "critical", V_NONE, 0, 0 },
	{ "Databricks Token", "dapi[a-z0-9]{30,}", "critical", V_NONE, 0, 0 },
	{ "Replicate API Token", "r8_[A-Za-z0-9]{20,}", "critical", V_NONE, 0, 0 },
	{ "Together AI Key", "tok_[a-z0-9]{40,}", "critical", V_NONE, 0, 0 },
	{ "Pinecone API Key", "pcsk_[a-zA-Z0-9]{36,}", "critical", V_NONE, 0, 0 },
	{ "Groq API Key", "gsk_[a-zA-Z0-9]{48,}", "critical", V_NONE, 0, 0 },
	{ "xAI API Key", "xai-[a-zA-Z0-9\\-_]{80,}", "critical", V_NONE, 0, 0 },
	{ "DigitalOcean Token", "dop_v1_[a-f0-9]{64}", "critical", V_NONE, 0, 0 },
	{ "HashiCorp Vault Token", "hvs\\.[a-zA-Z0-9]{23,}", "critical", V_NONE, 0, 0 },
	{ "Vercel Token", "(?:vercel|vc[piark])_[a-zA-Z0-9]{24,}", "critical", V_NONE, 0, 0 },
	{ "Supabase Service Key", "sb_secret_[a-zA-Z0-9_-]{20,}", "critical", V_NONE, 0, 0 },
	{ "npm Token", "npm_[A-Za-z0-9]{36,}", "critical", V_NONE, 0, 0 },
	{ "PyPI Token", "pypi-[A-Za-z0-9_-]{16,}", "critical", V_NONE, 0, 0 },
	{ "Linear API Key", "lin_api_[a-zA-Z0-9]{40,}", "high", V_NONE, 0, 0 },
	{ "Notion API Key", "ntn_[a-zA-Z0-9]{40,}", "high", V_NONE, 0, 0 },
	{ "Sentry Auth Token", "sntrys_[a-zA-Z0-9]{40,}", "high", V_NONE, 0, 0 },
	{ "Private Key Header", "-----BEGIN\\s+(RSA\\s+|EC\\s+|DSA\\s+|OPENSSH\\s+)?PRIVATE\\s+KEY-----", "critical", V_NONE, 0, 0 },
	{ "JWT Token", "(ey[a-zA-Z0-9_\\-=]{10,}\\.){2}[a-zA-Z0-9_\\-=]{10,}", "high", V_NONE, 0, 0 },
	{ "Bitcoin WIF Private Key", "(?:5[1-9A-HJ-NP-Za-km-z]{50}|[KL][1-9A-HJ-NP-Za-km-z]{51})", "critical", SCAN_VALIDATE_WIF,
	  DLP_SHAPE_WIF, 52 },
	{ "Extended Private Key", "[xyzt]prv[1-9A-HJ-NP-Za-km-z]{107,108}", "critical", V_NONE, 0, 0 },
	{ "Ethereum Private Key", "0x[0-9a-f]{64}\\b", "critical", V_NONE, 0, 0 },
	{ "Social Security Number", "\\b\\d{3}-\\d{2}-\\d{4}\\b", "low", V_NONE,
	  DLP_SHAPE_SSN, 11 },
	{ "Google OAuth Client ID", "[0-9]{6,}-[0-9A-Za-z_]{32}\\.apps\\.googleusercontent\\.com", "medium", V_NONE, 0, 0 },
	{ "Credential in URL", "(?m)(?:^|[?&;])\\s*(?:password|passwd|secret|token|apikey|api_key|api-key)\\s*=\\s*[^\\s&]{4,}", "high", V_NONE, 0, 0 },
	{ "Environment Variable Secret", "(?-i:[A-Z][A-Z0-9]*[_-](?:SECRET(?:[_-]ACCESS)?[_-]?KEY|SECRET|PASSWORD|PASSWD|TOKEN|API[_-]?KEY))\\b\\s*=\\s*\\S{8,}", "high", V_NONE, 0, 0 },
	{ "Credit Card Number", "\\b\\d{4}(?:[- ]?\\d){11,15}\\b", "medium", SCAN_VALIDATE_LUHN,
	  DLP_SHAPE_CARD, 34 },
	{ "IBAN", "\\b[A-Z]{2}\\d{2}[A-Z0-9]{11,30}\\b", "medium", SCAN_VALIDATE_MOD97,
	  DLP_SHAPE_IBAN, 34 },
};
const size_t dlp_nbuiltins = sizeof(dlp_builtins) / sizeof(dlp_builtins[0]);

/* core.go: runs first, label core_dlp, not configurable, no exemptions. */
const struct dlp_builtin dlp_core[] = {
	{ "AWS Access ID", "(AKIA|A3T|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16,}", "critical", V_NONE, 0, 0 },
	{ "AWS Secret Key", "(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|secret.?access.?key|SecretAccessKey)\\s*[\"'=:\\s]{1,5}\\s*[A-Za-z0-9/+=]{40}", "critical", V_NONE, 0, 0 },
	{ "GCP Service Account Key", "\"type\"\\s*:\\s*\"service_account\"", "critical", V_NONE, 0, 0 },
	{ "GitHub Token", "gh[pousr]_[A-Za-z0-9_]{36,}", "critical", V_NONE, 0, 0 },
	{ "GitHub Fine-Grained PAT", "github_pat_[a-zA-Z0-9_]{36,}", "critical", V_NONE, 0, 0 },
	{ "GitLab PAT", "glpat-[a-zA-Z0-9\\-_]{20,}", "critical", V_NONE, 0, 0 },
	{ "Slack Token", "xox[bpras]-[0-9a-zA-Z-]{15,}", "critical", V_NONE, 0, 0 },
	{ "Private Key Header", "-----BEGIN\\s+(RSA\\s+|EC\\s+|DSA\\s+|OPENSSH\\s+)?PRIVATE\\s+KEY-----", "critical", V_NONE, 0, 0 },
};
const size_t dlp_ncore = sizeof(dlp_core) / sizeof(dlp_core[0]);
