using AgentBus.DataBoundaries;

namespace AgentBus.UnitTests.DataBoundaries;

/// <summary>Each detector on its own: what it must find, and the near misses it must leave alone.</summary>
public class DetectorTests
{
    static IReadOnlyList<string> Classes(string text) => DataClassifier.Classify(text).Findings.Select(f => f.Class).Distinct().ToList();

    static void Finds(string dataClass, string text) => Assert.Contains(dataClass, Classes(text));

    static void FindsNothing(string text) => Assert.Empty(Classes(text));

    [Theory]
    [InlineData("AKIAIOSFODNN7EXAMPLE")]
    [InlineData("key=ASIAY34FZKBOKMUTVV7A;")]
    public void Aws_access_key_ids_are_found(string text) => Finds(DataClasses.AwsAccessKey, text);

    [Theory]
    [InlineData("AKIAIOSFODNN7EXAMPL")]          // 15 after the prefix
    [InlineData("XAKIAIOSFODNN7EXAMPLE")]        // glued to a word
    [InlineData("AKIAIOSFODNN7EXAMPLEX")]        // 17 after the prefix
    public void Aws_near_misses_are_not(string text) => Assert.DoesNotContain(DataClasses.AwsAccessKey, Classes(text));

    [Theory]
    [InlineData("ghp_R8fK2mQ9xLpT4vW7yZ1aB3cD5eF6gH8jK0lM")]
    [InlineData("github_pat_11ABCDEFG0123456789abc_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW")]
    [InlineData("glpat-xR4k9Lm2Qp7Tz1Vb8Nc3")]
    [InlineData("sk_test_4eC39HqLyjWDarjtT1zdp7dc")]
    [InlineData("rk_live_51HqLyjWDarjtT1zdp7dcQx")]
    [InlineData("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy")]
    [InlineData("sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f")]
    [InlineData("AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q")]
    [InlineData("SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")]
    [InlineData("npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")]
    [InlineData("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX")]
    public void Provider_keys_are_api_keys(string text) => Finds(DataClasses.ApiKey, text);

    [Theory]
    [InlineData("sk_test_short")]                 // body too short
    [InlineData("task-scheduler-for-the-nightly-billing-run-v2")] // "sk-" inside a word
    [InlineData("xoxb-not-a-real-token-this-will-not-work")]   // no digit
    [InlineData("pk_live_51HqLyjWDarjtT1zdp7dcQx")]           // publishable keys are public
    public void Key_look_alikes_are_not_api_keys(string text) => Assert.DoesNotContain(DataClasses.ApiKey, Classes(text));

    [Fact]
    public void The_jwt_io_example_is_a_jwt() => Finds(DataClasses.Jwt,
        "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");

    [Fact]
    public void Base64_json_that_is_not_a_jwt_header_is_not_a_jwt() =>
        // {"name":"x"} . {"a":1} . sig: no alg or typ in the first segment.
        Assert.DoesNotContain(DataClasses.Jwt, Classes("eyJuYW1lIjoieCJ9.eyJhIjoxfQ.c2ln"));

    [Theory]
    [InlineData("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----")]
    [InlineData("-----BEGIN OPENSSH PRIVATE KEY-----")]
    [InlineData("-----BEGIN PRIVATE KEY-----")]
    [InlineData("-----BEGIN PGP PRIVATE KEY BLOCK-----")]
    public void Pem_private_keys_are_found(string text) => Finds(DataClasses.PrivateKey, text);

    [Theory]
    [InlineData("-----BEGIN CERTIFICATE-----")]
    [InlineData("-----BEGIN PUBLIC KEY-----")]
    public void Public_pem_blocks_are_not_private_keys(string text) => FindsNothing(text);

    [Theory]
    [InlineData("postgres://app:s3cr3t@db.internal:5432/orders")]
    [InlineData("amqp://agent:Zx9%21q@broker.example.net/")]
    [InlineData("see mongodb+srv://svc:hunter2@cluster0.example.net/test")]
    public void Urls_with_a_password_are_found(string text)
    {
        Finds(DataClasses.PasswordInUrl, text);
        Assert.DoesNotContain(DataClasses.Email, Classes(text));
    }

    [Theory]
    [InlineData("postgres://app@db.internal:5432/orders")]      // no password
    [InlineData("redis://:${REDIS_PASSWORD}@cache.internal")]    // a placeholder
    [InlineData("https://user:****@example.com/")]               // masked
    [InlineData("https://example.com/a:b@c")]                    // @ in the path
    public void Urls_without_a_real_password_are_not(string text) => Assert.DoesNotContain(DataClasses.PasswordInUrl, Classes(text));

    [Theory]
    [InlineData("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    [InlineData("token: 9fQ2xLmR7vKpT3wZ8bNcY1dHs6")]
    [InlineData("Zm9vYmFyYmF6cXV4IQ/3n+Kq9Lw2Xa7Rt5Yb==")]
    public void Random_looking_tokens_are_high_entropy(string text) => Finds(DataClasses.HighEntropy, text);

    [Theory]
    [InlineData("550e8400-e29b-41d4-a716-446655440000")]                                // UUID
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // sha256 hex
    [InlineData("da39a3ee5e6b4b0d3255bfef95601890afd80709")]                         // sha1 / git sha
    [InlineData("getUserAccountBalanceForRefundRequest")]
    [InlineData("AgentBus.DataBoundaries.EntropyDetector")]
    [InlineData("MIN_BUDGET_ORDER_V1BETA1_QUEUE")]
    [InlineData("comment.orderBudgetV1beta1MachineDecisionRequest(writer)")]           // 40 characters, like an AWS secret key
    [InlineData("src/AgentBus.StatusMin/ServerKeyHash.cs")]
    [InlineData("s3://http-bucket/2025/06/24/491fc25de60e357a.parquet")]
    [InlineData("ch_3MtwBwLkdIwHu7ix28a3tqPa")]                                       // Stripe object id
    [InlineData("01ARZ3NDEKTSV4RRFFQ69G5FAV")]                                        // ULID
    [InlineData("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")]               // SRI digest
    [InlineData("ORD-2026-000123 RF-000001 INC0012345 v10.0.401-rc.1.25451.107")]
    public void Ids_hashes_and_identifiers_are_not_secrets(string text) => FindsNothing(text);

    [Theory]
    [InlineData("jane.doe@example.com")]
    [InlineData("write to <o.ivanova+billing@corp.example.co.uk>.")]
    public void Emails_are_found(string text) => Finds(DataClasses.Email, text);

    [Theory]
    [InlineData("logo@2x.png")]
    [InlineData("git@github.com:owner/repo.git")]
    [InlineData("user@localhost")]
    [InlineData("lodash@4.17.21")]
    [InlineData("@types/node")]
    public void Email_look_alikes_are_not_emails(string text) => FindsNothing(text);

    [Theory]
    [InlineData("+14155552671")]
    [InlineData("call +44 20 7946 0958")]
    [InlineData("+1 (415) 555-2671")]
    [InlineData("(201) 555-0123")]
    [InlineData("201-555-0123")]
    [InlineData("1-201-555-0123")]
    [InlineData("020 7946 0958")]
    [InlineData("07700 900123")]
    [InlineData("01 23 45 67 89")]
    public void Phone_numbers_are_found(string text) => Finds(DataClasses.Phone, text);

    [Theory]
    [InlineData("2026-12-03")]
    [InlineData("4155552671")]          // a bare run of digits: an id, a timestamp
    [InlineData("ORD-201-555-0123")]    // glued to an order prefix
    [InlineData("192.168.100.200")]
    [InlineData("12:30:45.123456")]
    [InlineData("103-555-0123")]        // NANP area codes do not start with 0 or 1
    public void Phone_look_alikes_are_not_phones(string text) => FindsNothing(text);

    [Theory]
    [InlineData("4242 4242 4242 4242")]
    [InlineData("4111111111111111")]
    [InlineData("5555-5555-5555-4444")]
    [InlineData("3782 822463 10005")]
    [InlineData("card (6011111111111117) expires")]
    public void Luhn_valid_cards_of_known_issuers_are_found(string text) => Finds(DataClasses.Card, text);

    [Theory]
    [InlineData("4111 1111 1111 1112")]   // Luhn fails
    [InlineData("1234567890123452")]      // Luhn-valid, no issuer starts with 1
    [InlineData("4111-1111 1111-1111")]   // mixed separators
    [InlineData("SKU-4111111111111111")]  // glued to an id
    public void Card_near_misses_are_not_cards(string text) => Assert.DoesNotContain(DataClasses.Card, Classes(text));

    [Theory]
    [InlineData("DE89 3704 0044 0532 0130 00")]
    [InlineData("GB29NWBK60161331926819")]
    [InlineData("FR14 2004 1010 0505 0001 3M02 606")]
    public void Ibans_with_a_valid_check_are_found(string text) => Finds(DataClasses.Iban, text);

    [Theory]
    [InlineData("DE89 3704 0044 0532 0130 01")]   // mod 97 fails
    [InlineData("DE89 3704 0044 0532 0130")]      // too short for DE
    [InlineData("XX89370400440532013000")]        // no such country
    public void Iban_near_misses_are_not_ibans(string text) => Assert.DoesNotContain(DataClasses.Iban, Classes(text));

    [Theory]
    [InlineData("123-45-6789")]
    [InlineData("ssn 536 22 1234")]
    public void Us_ssns_are_found(string text) => Finds(DataClasses.UsSsn, text);

    [Theory]
    [InlineData("000-12-3456")]
    [InlineData("666-12-3456")]
    [InlineData("912-12-3456")]
    [InlineData("123-00-4567")]
    [InlineData("123-45-0000")]
    [InlineData("078-05-1120")]
    [InlineData("123-45 6789")]
    [InlineData("123456789")]
    public void Invalid_ssns_are_not_ssns(string text) => Assert.DoesNotContain(DataClasses.UsSsn, Classes(text));

    [Theory]
    [InlineData("AB123456C")]
    [InlineData("nino: JG 10 37 49 D")]
    public void Uk_ninos_are_found(string text) => Finds(DataClasses.UkNino, text);

    [Theory]
    [InlineData("QQ 12 34 56 C")]   // HMRC's own example: Q is never a first letter
    [InlineData("GB123456A")]       // unallocated prefix
    [InlineData("AO123456E")]       // suffix beyond D (and O second)
    [InlineData("AB123456CD")]      // glued
    public void Invalid_ninos_are_not_ninos(string text) => Assert.DoesNotContain(DataClasses.UkNino, Classes(text));

    [Theory]
    [InlineData("qty 2 4111 1111 1111 1111", DataClasses.Card)]
    [InlineData("-1 4111 1111 1111 1111", DataClasses.Card)]
    [InlineData("-1 4111111111111111", DataClasses.Card)]
    [InlineData("room 12 4111-1111-1111-1111", DataClasses.Card)]
    [InlineData("2024 4111111111111111", DataClasses.Card)]
    [InlineData("x=1 123-45-6789", DataClasses.UsSsn)]
    [InlineData("call 2 123-45-6789", DataClasses.UsSsn)]
    [InlineData("apt 5 123 45 6789", DataClasses.UsSsn)]
    [InlineData("box 7 07700 900923", DataClasses.Phone)]
    [InlineData("#2 415-555-2671", DataClasses.Phone)]
    [InlineData("123-45-6789 1e309", DataClasses.UsSsn)]
    public void A_number_after_another_number_and_a_space_is_still_found(string text, string dataClass) => Finds(dataClass, text);

    [Theory]
    [InlineData("ORD-201-555-0123")]
    [InlineData("ORD-4111 1111 1111 1111 1111")]
    [InlineData("v1.2.3 2024-05-01")]
    public void Numbers_glued_to_a_word_stay_unfound(string text) => Assert.DoesNotContain(Classes(text), c => c.StartsWith("pii.", StringComparison.Ordinal));
}
