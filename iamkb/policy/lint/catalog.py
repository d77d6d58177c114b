"""The lint catalog: every finding code of `iamkb check` as data, joined to the IAM Access Analyzer checks it
implements, plus the checks that cannot apply to a policy document offline and why.

Why data: the site's check pages, the coverage table and the tests read this one table; the check functions
(iamkb/policy/lint/checks_*.py) only say which codes they emit. Access Analyzer checks are named by the ids that
iamkb/analyzer_checks.py gives the sections of its reference page (kb/build/analyzer_checks.json), so a join to a
check the page does not have fails the build (`coverage`).

Severities are Access Analyzer's four: a code that implements checks takes theirs (the strongest, when it serves
several), so a reviewer comparing the two tools reads the same word; `iamkb check` exits 1 on "error" only.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "security_warning", "warning", "suggestion")
ANALYZER_SEVERITY = {"Error": "error", "Security warning": "security_warning", "Warning": "warning",
                     "Suggestion": "suggestion"}
POLICY_TYPES = ("identity", "resource", "boundary", "scp", "session", "trust")
ALL = POLICY_TYPES
WITH_RESOURCES = ("identity", "resource", "boundary", "scp", "session")  # a trust policy names no resource
IDENTITY_SIDE = ("identity", "boundary", "session")  # attached to (or passed for) a principal
IAM_POLICIES = ("identity", "boundary", "session", "scp", "trust")  # IAM's own grammar rules (Sid, unique ids)
NO_TRUST = ("identity", "resource", "boundary", "scp", "session")
ANALYZER_PAGE = "iam/access-analyzer-reference-policy-checks"


@dataclass(frozen=True)
class Code:
    """One finding code: what `iamkb check` reports, where it applies, and which Access Analyzer checks it is."""

    code: str
    severity: str  # one of SEVERITIES
    title: str
    description: str  # iamkb's own words: what the finding means for the policy's author
    analyzer: tuple[str, ...] = ()  # Access Analyzer check ids (iamkb/analyzer_checks.py) this code implements
    policy_types: tuple[str, ...] = ALL
    section: str = ""  # KB section id of the page that documents the rule; "" = the first Access Analyzer check's
    note: str = ""  # how iamkb's check differs from Access Analyzer's, when it does

    @property
    def doc_section(self) -> str:
        return self.section or (f"{ANALYZER_PAGE}#{ANALYZER_PAGE.split('/')[1]}-{self.analyzer[0]}"
                                if self.analyzer else "")


def _c(code: str, severity: str, title: str, description: str, analyzer: str | tuple[str, ...] = (),
       policy_types: tuple[str, ...] = ALL, section: str = "", note: str = "") -> Code:
    return Code(code, severity, title, description, (analyzer,) if isinstance(analyzer, str) else analyzer,
                policy_types, section, note)


_E, _S, _W, _G = "error", "security_warning", "warning", "suggestion"
_PASSROLE = "iam/id_roles_use_passrole#id_roles_use_passrole"

CATALOG: tuple[Code, ...] = (
    # --- grammar: the document is not a policy AWS accepts (iamkb.policy.grammar reports these) ----------------
    _c("MALFORMED", _E, "Malformed policy element",
       "The element does not follow the policy grammar; AWS rejects the policy.",
       section="iam/reference_policies_elements#reference_policies_elements",
       note="the grammar errors no Access Analyzer check names (an action without a service prefix, an empty "
            "NotAction or NotPrincipal, nesting too deep)"),
    _c("DATA_TYPE_MISMATCH", _E, "Element of the wrong JSON type",
       "A policy element holds a JSON type the grammar does not allow there (a number as Sid, a list as "
       "Effect, an object as a condition value).", ("error-data-type-mismatch",)),
    _c("INVALID_POLICY_ELEMENT", _E, "Unknown policy element",
       "The document or statement has an element the policy language does not define.",
       "error-invalid-policy-element"),
    _c("INVALID_VERSION", _E, "Unknown Version",
       "Version is neither 2012-10-17 nor 2008-10-17.", "error-invalid-version"),
    _c("MISSING_STATEMENT", _E, "No statement",
       "The policy has no Statement, or an empty list of them.", "error-missing-statement"),
    _c("MISSING_EFFECT", _E, "Statement without Effect", "Every statement needs \"Effect\": \"Allow\" or \"Deny\".",
       "error-missing-effect"),
    _c("INVALID_EFFECT", _E, "Effect other than Allow or Deny", "Effect is exactly \"Allow\" or \"Deny\".",
       "error-invalid-effect"),
    _c("MISSING_ACTION", _E, "Statement without Action or NotAction",
       "Every statement names its actions with Action or NotAction.", "error-missing-action"),
    _c("UNSUPPORTED_ELEMENT_COMBINATION", _E, "Element and its Not form together",
       "A statement has Action or NotAction, Resource or NotResource, Principal or NotPrincipal, never both.",
       "error-unsupported-element-combination"),
    _c("INVALID_CONDITION_OPERATOR", _E, "Unknown condition operator",
       "The condition operator is not one the policy language defines (with its IfExists suffix and "
       "ForAllValues/ForAnyValue prefix).", "error-invalid-condition-operator"),
    _c("NULL_WITH_IF_EXISTS", _E, "Null with IfExists", "The Null operator takes no IfExists suffix.",
       "error-null-with-if-exists"),
    _c("INVALID_PRINCIPAL_FORMAT", _E, "Principal in the wrong form",
       "Principal is \"*\" or an object of principal types; an AWS principal is an account ID, an ARN or \"*\".",
       "error-invalid-principal-format", ("resource", "trust")),
    _c("INVALID_PRINCIPAL_KEY", _E, "Unknown principal type",
       "Principal types are AWS, Service, Federated and CanonicalUser.", "error-invalid-principal-key"),
    _c("INVALID_ARN_PREFIX", _E, "Resource that is not an ARN", "A resource is \"*\" or an ARN starting with arn:.",
       "error-invalid-arn-prefix", WITH_RESOURCES),
    _c("EMPTY_ARRAY_ACTION", _G, "Empty Action list",
       "An empty Action list names no action: the statement grants or denies nothing. iamkb's evaluator does "
       "not accept the statement; the other checks run on the rest of the policy.", "suggestion-empty-array-action"),
    _c("EMPTY_ARRAY_RESOURCE", _G, "Empty Resource list",
       "An empty Resource list names no resource: the statement grants or denies nothing.",
       "suggestion-empty-array-resource", WITH_RESOURCES),
    _c("EMPTY_ARRAY_PRINCIPAL", _G, "Empty principal list",
       "A principal type with an empty list names nobody: the statement grants or denies nothing.",
       "suggestion-empty-array-principal", ("resource", "trust")),
    _c("EMPTY_OBJECT_PRINCIPAL", _G, "Empty Principal object",
       "\"Principal\": {} names nobody: the statement grants or denies nothing.",
       "suggestion-empty-object-principal", ("resource", "trust")),
    _c("EMPTY_OBJECT_CONDITION", _G, "Empty condition block",
       "An empty Condition, or an operator with no keys, tests nothing; remove it or say what it should test.",
       "suggestion-empty-object-condition"),
    _c("EMPTY_ARRAY_CONDITION", _G, "Condition key with no values",
       "A condition key with an empty list of values never matches a request.", "suggestion-empty-array-condition",
       note="iamkb's evaluator does not accept an empty value list, so the other checks skip the policy"),
    _c("EMPTY_ARRAY_CONDITION_FORALLVALUES", _G, "ForAllValues with no values",
       "ForAllValues with no values matches only when the key is absent from the request; say so with Null.",
       "suggestion-empty-array-condition-forallvalues",
       note="iamkb's evaluator does not accept an empty value list, so the other checks skip the policy"),
    _c("EMPTY_ARRAY_CONDITION_FORANYVALUE", _G, "ForAnyValue with no values",
       "ForAnyValue with no values never matches: the statement has no effect.",
       "suggestion-empty-array-condition-foranyvalue",
       note="iamkb's evaluator does not accept an empty value list, so the other checks skip the policy"),
    _c("EMPTY_ARRAY_CONDITION_IFEXISTS", _G, "IfExists with no values",
       "An IfExists operator with no values matches only when the key is absent; say so with Null.",
       "suggestion-empty-array-condition-ifexists",
       note="iamkb's evaluator does not accept an empty value list, so the other checks skip the policy"),
    # --- names against the Service Authorization Reference (iamkb.refdata) --------------------------------------
    _c("UNKNOWN_SERVICE", _E, "Unknown service prefix",
       "No AWS service has this prefix, so the action, condition key or ARN never matches a request.",
       ("error-invalid-service-in-action", "error-invalid-service"),
       section="iam/reference_policies_elements_action#reference_policies_elements_action"),
    _c("UNKNOWN_ACTION", _E, "Unknown action", "The service has no action of this name.", "error-invalid-action",
       section="iam/reference_policies_elements_action#reference_policies_elements_action",
       note="checked for the services the knowledge base covers (kb/build/services.json, covered)"),
    _c("WILDCARD_MATCHES_NOTHING", _E, "Action wildcard matches no action",
       "The pattern matches no action of the service.", "error-invalid-action",
       section="iam/reference_policies_elements_action#reference_policies_elements_action"),
    _c("WILDCARD_IN_SERVICE_NAME", _G, "Wildcard in a service name",
       "A wildcard in the service part of an ARN or action reaches services with similar names, new ones too.",
       "suggestion-wildcard-in-service-name"),
    _c("INVALID_CONDITION_KEY_FORMAT", _E, "Condition key not in service:name form",
       "A condition key is a service prefix (or aws, or an identity provider's name), a colon and a name.",
       "error-invalid-condition-key-format"),
    _c("INVALID_GLOBAL_CONDITION_KEY", _E, "Unknown aws: condition key",
       "No global condition key of this name is documented, so the key is never in the request context.",
       "error-invalid-global-condition-key",
       section="iam/reference_policies_condition-keys#reference_policies_condition-keys",
       note="the global keys documented by the pinned IAM User Guide"),
    _c("INVALID_SERVICE_CONDITION_KEY", _E, "Unknown service condition key",
       "The service defines no condition key of this name.", "error-invalid-service-condition-key",
       note="checked for the services the knowledge base covers"),
    _c("UNSUPPORTED_GLOBAL_CONDITION_KEY", _E, "aws:ARN condition key",
       "aws:ARN is not a condition key to use; compare the caller with aws:PrincipalArn or the source with "
       "aws:SourceArn.", ("error-unsupported-global-condition-key", "general-warning-deprecated-global-condition-key"),
       note="one finding for both checks, which name the same key"),
    _c("MISSING_TAG_KEY_IN_CONDITION", _E, "Tag condition key without a tag key",
       "aws:ResourceTag, aws:RequestTag, aws:PrincipalTag and the services' tag keys take the tag key after a "
       "slash.", "error-missing-tag-key-in-condition"),
    _c("CONDITION_KEY_NOT_APPLICABLE", _W, "Condition key does not apply",
       "No action in the statement supports this condition key, so the key is never in the request context.",
       section="iam/reference_policies_elements_condition#AccessPolicyLanguage_RequestContext",
       note="iamkb's own: the statement as a whole, where Access Analyzer names the actions"),
    _c("UNSUPPORTED_ACTION_FOR_CONDITION_KEY", _E, "Actions the condition key does not apply to",
       "Some actions of the statement never carry this condition key, so the condition is false for them and the "
       "statement does not do for them what it says.", "error-unsupported-action-for-condition-key",
       note="named actions only (wildcards are skipped, as Access Analyzer does); aws:ResourceTag has the tag "
            "checks below"),
    _c("MISSING_ACTION_FOR_CONDITION_KEY", _E, "Condition key without the action that sets it",
       "A role trust policy can test session tags or a source identity only in a statement that also allows the "
       "action that sets them (sts:TagSession, sts:SetSourceIdentity).", "error-missing-action-for-condition-key",
       ("trust",)),
    _c("RESOURCE_MATCHES_NO_TYPE", _W, "Resource ARN matches no resource type of the actions",
       "The ARN does not fit any resource type the statement's actions work on.",
       policy_types=WITH_RESOURCES,
       section="iam/reference_policies_elements_resource#reference_policies_elements_resource"),
    _c("NO_RESOURCE_LEVEL_PERMISSIONS", _W, "Action does not support resource-level permissions",
       "The action only works with Resource \"*\"; a specific ARN never matches its requests.",
       policy_types=WITH_RESOURCES,
       section="iam/reference_policies_elements_resource#reference_policies_elements_resource"),
    # --- ARNs ---------------------------------------------------------------------------------------------------
    _c("MISSING_ARN_FIELD", _E, "ARN with fewer than six fields",
       "An ARN has six colon-separated fields: arn:partition:service:region:account:resource.",
       "error-missing-arn-field", WITH_RESOURCES),
    _c("INVALID_PARTITION", _E, "Unknown ARN partition",
       "The partition is not one of AWS's (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, "
       "aws-eusc).", "error-invalid-partition", WITH_RESOURCES,
       note="the partition's name; whether a service runs in that partition is not in the reference data"),
    _c("INVALID_ARN_SERVICE_CASE", _E, "Upper case in an ARN's service", "ARN service prefixes are lower case.",
       "error-invalid-arn-service-case", WITH_RESOURCES),
    _c("INVALID_ARN_REGION", _E, "Malformed ARN Region",
       "The Region field is not a Region name (us-east-1, eu-central-2, us-gov-west-1, ...).",
       "error-invalid-arn-region", WITH_RESOURCES,
       note="partial: the Region's form; which Regions each service runs in is not in the reference data"),
    _c("INVALID_ARN_ACCOUNT", _E, "Malformed ARN account", "The account field is not a 12-digit account ID.",
       "error-invalid-arn-account", WITH_RESOURCES),
    _c("ARN_ACCOUNT_NOT_ALLOWED", _E, "Account in an ARN whose service takes none",
       "No resource type of the service has an account in its ARN (S3 buckets, for one).",
       "error-arn-account-not-allowed", WITH_RESOURCES, note="services the knowledge base covers"),
    _c("ARN_REGION_NOT_ALLOWED", _E, "Region in an ARN whose service takes none",
       "No resource type of the service has a Region in its ARN (IAM, for one).", "error-arn-region-not-allowed",
       WITH_RESOURCES, note="services the knowledge base covers"),
    _c("MISSING_ARN_REGION", _E, "ARN without the Region its service needs",
       "Every resource type of the service has a Region in its ARN, and this ARN leaves it empty.",
       "error-missing-arn-region", WITH_RESOURCES, note="services the knowledge base covers"),
    _c("INVALID_ARN_RESOURCE", _E, "ARN that fits no resource type of its service",
       "The ARN matches none of the service's ARN formats.", "error-invalid-arn-resource", WITH_RESOURCES,
       note="services the knowledge base covers"),
    _c("REDUNDANT_RESOURCE", _G, "Resource covered by another of the list",
       "Another ARN pattern of the same list already matches every resource this one does.",
       "suggestion-redundant-resource", WITH_RESOURCES),
    _c("REDUNDANT_ACTION", _G, "Action covered by another of the list",
       "Another entry of the same Action list already covers every action this one does.",
       "suggestion-redundant-action", note="a pattern's actions are expanded for covered services"),
    _c("REDUNDANT_STATEMENT", _G, "Redundant statement",
       "Another statement with the same effect already covers every action and resource of this one.",
       "suggestion-redundant-statement",
       section="iam/reference_policies_elements_statement#reference_policies_elements_statement",
       note="also statements that another one covers, not only identical ones"),
    # --- condition values ---------------------------------------------------------------------------------------
    _c("OPERATOR_TYPE_MISMATCH", _W, "Condition operator does not fit the key's type",
       "The operator family (String, Numeric, Date, Bool, ARN, IP) differs from the condition key's type.",
       "general-warning-type-mismatch",
       section="iam/reference_policies_elements_condition_operators#reference_policies_elements_condition_operators"),
    _c("NULL_NOT_BOOLEAN", _W, "Null with a non-boolean value", "The Null operator takes true (key absent) or false "
       "(key present).", "general-warning-type-mismatch-boolean",
       section="iam/reference_policies_elements_condition_operators#Conditions_Null"),
    _c("TYPE_MISMATCH_BOOLEAN", _W, "Bool with a value other than true or false",
       "Bool compares with true or false; any other value never matches.", "general-warning-type-mismatch-boolean"),
    _c("TYPE_MISMATCH_NUMBER", _W, "Numeric operator with a value that is not a number",
       "A numeric operator's value is an integer or a decimal.", "general-warning-type-mismatch-number"),
    _c("TYPE_MISMATCH_DATE", _W, "Date operator with a value that is not a date",
       "A date operator's value is an ISO 8601 date or time, or epoch seconds.", "general-warning-type-mismatch-date"),
    _c("INVALID_DATE_VALUE", _W, "Date given as epoch seconds",
       "Epoch seconds work but are easy to get wrong; write the date as YYYY-MM-DD or a full ISO 8601 time.",
       "general-warning-invalid-date-value"),
    _c("TYPE_MISMATCH_IP_RANGE", _W, "IP operator with a value that is not an address or CIDR range",
       "IpAddress and NotIpAddress take IPv4 or IPv6 addresses or CIDR ranges.", "general-warning-type-mismatch-ip-range"),
    _c("TYPE_MISMATCH_STRING", _W, "BinaryEquals with a value that is not base64",
       "BinaryEquals compares base64-encoded values.", "general-warning-type-mismatch-string"),
    _c("INVALID_CONDITION_DATA_TYPE", _E, "Condition values of different JSON types",
       "One condition key's values mix strings, numbers and booleans.", "error-invalid-condition-data-type"),
    _c("INVALID_CONDITION_MULTIPLE_BOOLEAN", _E, "Bool key with several values",
       "A Boolean key has one value; listing true and false makes the condition always (or never) match.",
       "error-invalid-condition-multiple-boolean"),
    _c("DUPLICATE_KEYS_WITH_DIFFERENT_CASE", _E, "Condition key repeated with different case",
       "Key names are not case-sensitive: the same key twice in one operator block is ambiguous.",
       "error-duplicate-keys-with-different-case"),
    _c("WILDCARD_WITHOUT_LIKE_OPERATOR", _W, "Wildcard in a value of an Equals operator",
       "StringEquals and ArnEquals compare * and ? literally; use StringLike or ArnLike to match a pattern.",
       "general-warning-wildcard-without-like-operator"),
    _c("REDUNDANT_CONDITION_VALUE_NUM", _G, "Numeric values that one value would say",
       "Several values of a less-than or greater-than operator reduce to the loosest of them.",
       "suggestion-redundant-condition-value-num"),
    _c("MISSING_QUALIFIER", _E, "Multivalued key without ForAllValues or ForAnyValue",
       "The key can hold several values in a request; say whether all or any must match.",
       "error-missing-qualifier",
       section="iam/reference_policies_multi-value-conditions#reference_policies_multi-value-conditions"),
    _c("FORALLVALUES_WITH_SINGLE_VALUED_KEY", _S, "ForAllValues with a single-valued key",
       "ForAllValues is also true when the key is absent, so on a single-valued key it matches requests that do not "
       "carry the key at all.", "security-warning-forallvalues-with-single-valued-key",
       section="iam/reference_policies_multi-value-conditions#reference_policies_multi-value-conditions"),
    _c("FORALLVALUES_WITH_ALLOW", _S, "ForAllValues in an Allow without a Null check",
       "ForAllValues is true when the key is missing or empty, so the Allow can grant more than intended; "
       "pair it with a Null check or use ForAnyValue.",
       section="iam/reference_policies_multi-value-conditions#reference_policies_multi-value-conditions",
       note="iamkb's own, for multivalued keys (single-valued ones get FORALLVALUES_WITH_SINGLE_VALUED_KEY)"),
    _c("NULL_WITH_QUALIFIER", _G, "Null with ForAllValues or ForAnyValue",
       "ForAllValues:Null is always true and ForAnyValue:Null always false; use Null alone.",
       "suggestion-null-with-qualifier"),
    _c("INVALID_REGION", _E, "Region condition value that is not a Region",
       "aws:RequestedRegion and the services' Region keys compare Region names (us-east-1, ...).",
       "error-invalid-region", note="the Region's form, not the list of Regions"),
    _c("INVALID_VPC_FORMAT", _E, "aws:SourceVpc value that is not a VPC ID",
       "A VPC ID is vpc- and 8 or 17 letters and digits.", "error-invalid-vpc-format"),
    _c("INVALID_VPCE_FORMAT", _E, "aws:SourceVpce value that is not a VPC endpoint ID",
       "A VPC endpoint ID is vpce- and 8 or 17 letters and digits.", "error-invalid-vpce-format"),
    _c("INVALID_SERVICE_PRINCIPAL_FORMAT", _E, "Service principal in the wrong form",
       "A service principal is service.amazonaws.com in lower case (kms:ViaService: service.region.amazonaws.com).",
       "error-invalid-service-principal-format"),
    _c("PRIVATE_IP_ADDRESS", _E, "aws:SourceIp with private addresses only",
       "aws:SourceIp holds public addresses; a condition that only lists private ranges never matches.",
       "error-private-ip-address"),
    _c("PRIVATE_NOT_IP_ADDRESS", _E, "NotIpAddress on aws:SourceIp with private addresses only",
       "aws:SourceIp holds public addresses, so excluding only private ranges excludes nothing.",
       "error-private-not-ip-address"),
    _c("PRIVATE_IP_ADDRESS_SUBSET", _G, "aws:SourceIp mixing private and public addresses",
       "The private ranges never match aws:SourceIp; test them with aws:VpcSourceIp.",
       "suggestion-private-ip-address-subset"),
    _c("PRIVATE_NOT_IP_ADDRESS_SUBSET", _G, "NotIpAddress on aws:SourceIp mixing private and public addresses",
       "The private ranges have no effect on aws:SourceIp; test them with aws:VpcSourceIp.",
       "suggestion-private-not-ip-address-subset"),
    _c("IMPROVE_IP_RANGE", _G, "CIDR range with host bits set",
       "The bits after the prefix length are ignored; write the network address.", "suggestion-improve-ip-range"),
    _c("MISSING_PAIRED_CONDITION_KEYS", _S, "Condition key without its pair",
       "aws:VpcSourceIp compares an address that is only unique within a VPC: pair it with aws:SourceVpc or "
       "aws:SourceVpce.", "security-warning-missing-paired-condition-keys"),
    # --- policy variables (iam/reference_policies_variables) ----------------------------------------------------
    _c("INVALID_VARIABLE_FOR_OPERATOR", _E, "Policy variable with an operator that takes none",
       "Variables work with String and ARN operators only.", "error-invalid-variable-for-operator"),
    _c("MISSING_BRACE_IN_VARIABLE", _E, "Policy variable without its closing brace",
       "A variable is ${name}; without the brace the text is taken literally.", "error-missing-brace-in-variable"),
    _c("MISSING_QUOTE_IN_VARIABLE", _E, "Variable default value without quotes",
       "A default value is written ${key, 'default'}.", "error-missing-quote-in-variable"),
    _c("UNSUPPORTED_SPACE_IN_VARIABLE", _E, "Space in a variable name", "A variable's name has no spaces.",
       "error-unsupported-space-in-variable"),
    _c("EMPTY_VARIABLE", _E, "Empty policy variable", "${} names no value.", "error-empty-variable"),
    _c("VARIABLE_UNSUPPORTED_IN_ELEMENT", _E, "Policy variable outside Resource and Condition",
       "Variables are replaced in Resource, NotResource and condition values only; elsewhere they are literal text.",
       "error-variable-unsupported-in-element"),
    _c("VARIABLE_UNSUPPORTED_IN_VERSION", _E, "Policy variable without Version 2012-10-17",
       "Without \"Version\": \"2012-10-17\" a variable is literal text.", "error-variable-unsupported-in-version"),
    # --- Sid and Version ----------------------------------------------------------------------------------------
    _c("DUPLICATE_SID", _E, "Duplicate Sid", "Statement ids must be unique within an IAM policy.",
       "error-unique-sids-required", IAM_POLICIES,
       section="iam/reference_policies_elements_sid#reference_policies_elements_sid"),
    _c("UNIQUE_SIDS_RECOMMENDED", _W, "Duplicate Sid in a resource-based policy",
       "Unique statement ids make a policy's findings and logs point at one statement.",
       "general-warning-unique-sids-recommended", ("resource",)),
    _c("UNSUPPORTED_SID", _E, "Sid with characters IAM does not allow",
       "In IAM policies a Sid holds letters and digits only.", "error-unsupported-sid", IAM_POLICIES,
       section="iam/reference_policies_elements_sid#reference_policies_elements_sid"),
    _c("EMPTY_SID_VALUE", _G, "Empty Sid", "\"Sid\": \"\" names nothing; give the statement an id or drop the element.",
       "suggestion-empty-sid-value"),
    _c("MISSING_VERSION", _W, "No Version element",
       "Without \"Version\": \"2012-10-17\" policy variables are literal text.", "general-warning-missing-version",
       section="iam/reference_policies_elements_version#reference_policies_elements_version"),
    # --- principals ---------------------------------------------------------------------------------------------
    _c("MISSING_RESOURCE", _E, "Statement without Resource or NotResource",
       "A policy attached to a principal says which resources each statement is about.", "error-missing-resource",
       IDENTITY_SIDE),
    _c("MISSING_PRINCIPAL", _E, "Resource-based statement without Principal",
       "A resource-based policy or role trust policy says whom each statement is about.",
       "error-missing-principal", ("resource", "trust")),
    _c("UNSUPPORTED_PRINCIPAL", _E, "Principal in an identity-side policy",
       "A policy attached to a principal is about that principal: it takes no Principal or NotPrincipal.",
       "error-unsupported-principal", IDENTITY_SIDE),
    _c("UNSUPPORTED_WILDCARD_IN_PRINCIPAL", _E, "Wildcard inside a principal",
       "A principal is named exactly: \"*\" alone means everyone, but a wildcard inside an ARN or service name is "
       "not a pattern.", "error-unsupported-wildcard-in-principal", ("resource", "trust")),
    _c("FEDERATED_PRINCIPAL_NOT_SUPPORTED", _E, "Federated principal outside a role trust policy",
       "Only a role trust policy can name an identity provider.", "error-federated-principal-not-supported",
       NO_TRUST),
    _c("INVALID_ROLE_REFERENCE", _W, "Role named by its unique ID",
       "A principal ID (AROA...) stops matching when the role is re-created; name the role's ARN.",
       "general-warning-invalid-role-reference", ("resource", "trust")),
    _c("INVALID_USER_REFERENCE", _W, "User named by its unique ID",
       "A principal ID (AIDA...) stops matching when the user is re-created; name the user's ARN.",
       "general-warning-invalid-user-reference", ("resource", "trust")),
    _c("ALLOW_WITH_NOT_PRINCIPAL", _S, "Allow with NotPrincipal",
       "Allow with NotPrincipal grants every principal not listed, anonymous callers included.",
       "security-warning-allow-with-not-principal", ("resource",),
       section="iam/reference_policies_elements_notprincipal#specifying-notprincipal-allow"),
    _c("DENY_WITH_NOT_PRINCIPAL", _W, "Deny with NotPrincipal",
       "A Deny with NotPrincipal applies to every principal it does not list, the account's own administrators and "
       "AWS services included; the IAM guide recommends a condition on aws:PrincipalArn instead, and, while "
       "NotPrincipal stays, the account ARN of every principal it exempts.",
       policy_types=("resource",), section="iam/reference_policies_elements_notprincipal#specifying-notprincipal",
       note="iamkb's own"),
    _c("RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL", _S, "Service principal without a source condition",
       "A service acting for any account can use the grant (the confused deputy problem): limit it with "
       "aws:SourceArn or aws:SourceAccount.", "security-warning-restrict-access-to-service-principal", ("resource",),
       section="autoscaling/cross-service-confused-deputy-prevention#cross-service-confused-deputy-prevention"),
    _c("RECOMMENDED_CONDITION_KEY_FOR_SERVICE_PRINCIPAL", _G, "Service principal limited by another key",
       "For a service principal acting on your behalf, aws:SourceArn or aws:SourceAccount says which resource or "
       "account it acts for; other keys do not.", "suggestion-recommended-condition-key-for-service-principal",
       ("resource",)),
    # --- policy types: SCPs, role trust policies, resource-based policies ---------------------------------------
    _c("SCP_SYNTAX_ERROR_ACTION_WILDCARD", _E, "SCP action with a wildcard before its end",
       "In an SCP a wildcard may only end an action name (iam:Get*, not iam:*Role).",
       "error-scp-syntax-error-action-wildcard", ("scp",)),
    _c("SCP_SYNTAX_ERROR_ALLOW_CONDITION", _E, "SCP Allow with a Condition",
       "SCPs take conditions in Deny statements only.", "error-scp-syntax-error-allow-condition", ("scp",)),
    _c("SCP_SYNTAX_ERROR_ALLOW_NOTACTION", _E, "SCP Allow with NotAction", "SCPs take NotAction in Deny statements only.",
       "error-scp-syntax-error-allow-notaction", ("scp",)),
    _c("SCP_SYNTAX_ERROR_ALLOW_RESOURCE", _E, "SCP Allow with specific resources",
       "An SCP Allow applies to every resource (\"Resource\": \"*\").", "error-scp-syntax-error-allow-resource", ("scp",)),
    _c("SCP_SYNTAX_ERROR_NOTRESOURCE", _E, "SCP with NotResource", "SCPs take no NotResource.",
       "error-scp-syntax-error-notresource", ("scp",)),
    _c("SCP_SYNTAX_ERROR_PRINCIPAL", _E, "SCP with Principal or NotPrincipal",
       "An SCP applies to the accounts it is attached to; compare the caller with aws:PrincipalArn.",
       "error-scp-syntax-error-principal", ("scp",)),
    _c("TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL", _E, "Role trust policy with NotPrincipal",
       "A role trust policy names who may assume the role with Principal.",
       "error-role-trust-policy-syntax-error-notprincipal", ("trust",)),
    _c("TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL", _E, "Role trust policy trusting \"*\"",
       "A role trust policy names who may assume the role; \"*\" is not accepted there.",
       "error-role-trust-policy-unsupported-wildcard-in-principal", ("trust",)),
    _c("TRUST_POLICY_SYNTAX_ERROR_RESOURCE", _E, "Role trust policy with Resource",
       "A role trust policy is about its own role: it takes no Resource or NotResource.",
       "error-role-trust-policy-syntax-error-resource", ("trust",)),
    _c("INVALID_FEDERATED_PRINCIPAL_SYNTAX", _E, "Federated principal in the wrong form",
       "A federated principal is an OIDC provider's domain or ARN, or a SAML provider's ARN.",
       "error-invalid-federated-principal-syntax-in-role-trust-policy", ("trust",)),
    _c("MISMATCHED_ACTION_FOR_PRINCIPAL", _E, "AssumeRole action that does not fit the principal",
       "SAML providers use sts:AssumeRoleWithSAML and OIDC providers sts:AssumeRoleWithWebIdentity; other "
       "principals use neither.", "error-mismatched-action-for-principal", ("trust",)),
    _c("MISSING_ACTION_FOR_ROLES_ANYWHERE_TRUST_POLICY", _E, "IAM Roles Anywhere without its three actions",
       "rolesanywhere.amazonaws.com needs sts:AssumeRole, sts:SetSourceIdentity and sts:TagSession.",
       "error-missing-action-for-roles-anywhere-trust-policy", ("trust",)),
    _c("MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL", _S, "OIDC principal without a provider condition",
       "Without a condition on the provider's keys (aud, sub, ...) any identity of the provider can assume the role.",
       "security-warning-missing-condition-key-for-oidc-principal", ("trust",)),
    _c("MISSING_GITHUB_REPO_CONDITION_KEY", _S, "GitHub OIDC principal without a sub condition",
       "Without token.actions.githubusercontent.com:sub any GitHub repository's workflows can assume the role.",
       "security-warning-missing-github-repo-condition-key", ("trust",)),
    _c("SPECIFIC_GITHUB_REPO_AND_BRANCH_RECOMMENDED", _W, "Wildcard in the GitHub sub condition",
       "A wildcard in token.actions.githubusercontent.com:sub lets repositories or branches you did not mean assume "
       "the role.", "general-warning-specific-github-repo-and-branch-recommended", ("trust",)),
    _c("CONFIRM_AUDIENCE_CLAIM_TYPE", _G, "Audience claim of an unknown provider",
       "An OIDC provider's aud claim may hold one value or several: use ForAnyValue/ForAllValues only if it holds "
       "several.", "suggestion-confirm-audience-claim-type", ("trust",),
       note="providers whose aud key the reference lists (with its type) are checked by the type checks instead"),
    _c("REDUNDANT_PRINCIPAL_IN_TRUST_POLICY", _G, "Assumed-role principal beside its role",
       "The role's ARN already covers its sessions.", "suggestion-redundant-principal-in-role-trust-policy",
       ("trust", "resource")),
    _c("UNSUPPORTED_ACTION_IN_POLICY", _E, "Action of another service than the policy's resource",
       "A resource-based policy is about its own resource: actions of other services never apply to it.",
       ("error-unsupported-action-in-policy", "error-unsupported-action-in-policy-2"), ("resource",),
       note="needs the resource the policy is attached to: --resource-type SERVICE:TYPE"),
    _c("UNSUPPORTED_RESOURCE_ARN_IN_POLICY", _E, "Resource of another service than the policy's resource",
       "A resource-based policy is about its own resource: another service's ARNs never match.",
       ("error-unsupported-resource-arn-in-policy", "error-unsupported-resource-arn-in-policy-2"), ("resource",),
       note="needs the resource the policy is attached to: --resource-type SERVICE:TYPE"),
    _c("IRRELEVANT_CONDITION_KEY_IN_POLICY", _G, "Resource account key in a resource-based policy",
       "A resource-based policy's resource is always in its own account, so its ResourceAccount key says nothing.",
       "suggestion-irrelevant-condition-key-in-policy", ("resource",),
       note="aws:ResourceAccount, and the attached service's own ResourceAccount key with --resource-type"),
    # --- sizes --------------------------------------------------------------------------------------------------
    _c("POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA", _W, "Managed policy larger than 6,144 characters",
       "A managed policy holds at most 6,144 characters, white space not counted.",
       "general-warning-policy-size-exceeds-identity-policy-quota", ("identity", "boundary")),
    _c("POLICY_SIZE_EXCEEDS_SCP_QUOTA", _E, "SCP larger than 5,120 characters",
       "An SCP holds at most 5,120 characters.", "error-policy-size-exceeds-scp-quota", ("scp",)),
    _c("POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA", _W, "Role trust policy larger than 2,048 characters",
       "A role trust policy holds 2,048 characters, white space not counted, unless the account's quota was raised.",
       "general-warning-policy-size-exceeds-role-trust-policy-quota", ("trust",),
       note="the default quota; an account's raised quota is account data"),
    # --- what the policy allows ---------------------------------------------------------------------------------
    _c("PASS_ROLE_WITH_STAR_IN_RESOURCE", _S, "iam:PassRole on any role",
       "Allowing iam:PassRole on a wildcard resource lets the principal pass any role, administrator roles included; "
       "name the roles or limit the services with iam:PassedToService.",
       "security-warning-pass-role-with-star-in-resource", IDENTITY_SIDE, section=_PASSROLE),
    _c("PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE", _S, "Action wildcard and resource wildcard grant iam:PassRole",
       "A wildcard action (*, iam:*, iam:Pass*) on a wildcard resource includes passing any role.",
       "security-warning-pass-role-with-star-in-action-and-resource", IDENTITY_SIDE, section=_PASSROLE),
    _c("PASS_ROLE_WITH_NOT_RESOURCE", _S, "iam:PassRole with NotResource",
       "NotResource allows passing every role but the listed ones.", "security-warning-pass-role-with-not-resource",
       IDENTITY_SIDE, section=_PASSROLE),
    _c("PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE", _S, "Action wildcard with NotResource grants iam:PassRole",
       "A wildcard action with NotResource includes passing every role but the listed ones.",
       "security-warning-pass-role-with-star-in-action-and-not-resource", IDENTITY_SIDE, section=_PASSROLE),
    _c("PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE", _S, "NotAction with NotResource grants iam:PassRole",
       "NotAction that does not list iam:PassRole, with NotResource, allows passing roles.",
       "security-warning-pass-role-with-not-action-and-not-resource", IDENTITY_SIDE, section=_PASSROLE),
    _c("PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION", _S, "NotAction on a wildcard resource grants iam:PassRole",
       "NotAction that does not list iam:PassRole, on a wildcard resource, allows passing any role.",
       "security-warning-pass-role-with-star-in-resource-and-not-action", IDENTITY_SIDE, section=_PASSROLE),
    _c("CREATE_SLR_WITH_STAR_IN_RESOURCE", _W, "iam:CreateServiceLinkedRole on any role",
       "Allows creating the service-linked role of any service; name the roles (or limit with iam:AWSServiceName).",
       "general-warning-create-slr-with-star-in-resource", IDENTITY_SIDE),
    _c("CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE", _W,
       "Action wildcard and resource wildcard grant iam:CreateServiceLinkedRole",
       "A wildcard action (*, iam:*, iam:Create*) on a wildcard resource includes creating any service-linked role.",
       "general-warning-create-slr-with-star-in-action-and-resource", IDENTITY_SIDE),
    _c("CREATE_SLR_WITH_NOT_RESOURCE", _W, "iam:CreateServiceLinkedRole with NotResource",
       "NotResource allows creating every service-linked role but the listed ones.",
       "general-warning-create-slr-with-not-resource", IDENTITY_SIDE),
    _c("CREATE_SLR_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE", _W,
       "Action wildcard with NotResource grants iam:CreateServiceLinkedRole",
       "A wildcard action with NotResource includes creating service-linked roles.",
       "general-warning-create-slr-with-star-in-action-and-not-resource", IDENTITY_SIDE),
    _c("CREATE_SLR_WITH_NOT_ACTION_AND_NOT_RESOURCE", _W, "NotAction with NotResource grants iam:CreateServiceLinkedRole",
       "NotAction that does not list iam:CreateServiceLinkedRole, with NotResource, allows creating service-linked "
       "roles.", "general-warning-create-slr-with-not-action-and-not-resource", IDENTITY_SIDE),
    _c("CREATE_SLR_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION", _W,
       "NotAction on a wildcard resource grants iam:CreateServiceLinkedRole",
       "NotAction that does not list iam:CreateServiceLinkedRole, on a wildcard resource, allows creating any "
       "service-linked role.", "general-warning-create-slr-with-star-in-resource-and-not-action", IDENTITY_SIDE),
    _c("DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY", _S, "Deny on a tag key some of its actions do not carry",
       "A request for an action that does not support aws:ResourceTag carries no such key, so the condition is "
       "false and the Deny does not apply to it, tagged resource or not.",
       "security-warning-deny-with-unsupported-tag-condition-key-for-service", NO_TRUST,
       note="named actions of covered services"),
    _c("DENY_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY", _S, "Deny with NotAction on a tag condition key",
       "The Deny reaches every action but the listed ones, and those that do not support the tag key are never "
       "denied by it.", "security-warning-deny-notaction-with-unsupported-tag-condition-key-for-service", NO_TRUST),
    _c("ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY", _G, "Allow on a tag key some of its actions do not carry",
       "A request for an action that does not support aws:ResourceTag carries no such key, so the condition is "
       "false and the Allow never grants it.",
       "suggestion-allow-with-unsupported-tag-condition-key-for-service", NO_TRUST,
       note="named actions of covered services"),
    _c("ALLOW_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY", _G, "Allow with NotAction on a tag condition key",
       "The Allow only grants the actions that support the tag key.",
       "suggestion-allow-notaction-with-unsupported-tag-condition-key-for-service", NO_TRUST),
    _c("AUTOSCALING_FULL_ACCESS", _W, "autoscaling:* on every resource",
       "Grants every Auto Scaling action, including deletes, on every group.", policy_types=IDENTITY_SIDE,
       section="autoscaling/security-iam#security-iam", note="iamkb's own"),
    _c("REFERENCE_UNAVAILABLE", _G, "Reference data not built",
       "Checks against the Service Authorization Reference were skipped: run `iamkb build-kb`.",
       section="iam/reference_policies_elements_action#reference_policies_elements_action", note="iamkb's own"),
)
BY_CODE = {c.code: c for c in CATALOG}

# Access Analyzer checks that a policy document alone cannot decide, and why (the coverage table prints these).
NOT_OFFLINE: dict[str, str] = {
    "general-warning-policy-size-exceeds-resource-policy-quota":
        "the quota is the service's (an S3 bucket policy 20 KB, a KMS key policy 32 KB, ...), and the Service "
        "Authorization Reference the checks use does not list resource policy quotas",
    "error-unsupported-condition-key-for-service-principal":
        "which condition keys each service principal's requests carry is service data that neither the IAM User "
        "Guide nor the Service Authorization Reference lists",
}
# Access Analyzer checks iamkb implements as bad input rather than a finding: `iamkb check` exits 2 with the line
# and column, as every iamkb command does with malformed JSON (DESIGN.md).
AS_INPUT_ERROR: dict[str, str] = {
    "error-json-syntax-error": "malformed JSON: exit 2 with the line and column",
    "error-json-syntax-error-2": "malformed JSON: exit 2 with the line and column",
}


def codes_for(check_id: str) -> list[str]:
    """The iamkb codes that implement an Access Analyzer check, in catalog order."""
    return [c.code for c in CATALOG if check_id in c.analyzer]


def coverage(analyzer_checks: list[dict]) -> dict:
    """The coverage table: every Access Analyzer check the docs list -> iamkb codes, bad input, or not applicable
    offline with the reason; with the counts. Raises ValueError when the catalog names a check the docs do not
    have, or leaves one of the docs' checks unaccounted for (the build stops rather than publish a wrong table)."""
    known = {c["id"] for c in analyzer_checks}
    named = {a for c in CATALOG for a in c.analyzer} | set(NOT_OFFLINE) | set(AS_INPUT_ERROR)
    unknown = sorted(named - known)
    if analyzer_checks and unknown:
        raise ValueError(f"the lint catalog names Access Analyzer checks the docs do not have: {', '.join(unknown)}")
    rows = []
    for check in analyzer_checks:
        codes = codes_for(check["id"])
        if codes:
            status, how = "implemented", ""
        elif check["id"] in AS_INPUT_ERROR:
            status, how = "implemented", AS_INPUT_ERROR[check["id"]]
        elif check["id"] in NOT_OFFLINE:
            status, how = "not_offline", NOT_OFFLINE[check["id"]]
        else:
            raise ValueError(f"Access Analyzer check '{check['id']}' has no iamkb code and no reason it is not "
                             "implemented (iamkb/policy/lint/catalog.py)")
        notes = [BY_CODE[c].note for c in codes if BY_CODE[c].note]
        rows.append({"check": check["id"], "title": check["title"], "severity": check["severity"],
                     "section": check["section"], "status": status, "codes": codes, "how": how or "; ".join(notes)})
    applicable = [r for r in rows if r["status"] != "not_offline"]
    implemented = [r for r in applicable if r["status"] == "implemented"]
    return {
        "checks": rows,
        "counts": {"checks": len(rows), "applicable": len(applicable), "implemented": len(implemented),
                   "not_offline": len(rows) - len(applicable)},
        "codes": [{"code": c.code, "severity": c.severity, "title": c.title, "description": c.description,
                   "analyzer": list(c.analyzer), "policy_types": list(c.policy_types), "section": c.doc_section,
                   "note": c.note} for c in CATALOG],
    }
