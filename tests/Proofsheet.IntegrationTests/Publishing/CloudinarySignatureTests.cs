using Proofsheet.Publishing;

namespace Proofsheet.IntegrationTests.Publishing;

public sealed class CloudinarySignatureTests
{
    private static readonly KeyValuePair<string, string?>[] DocumentedExample =
    [
        new("timestamp", "1315060510"),
        new("public_id", "sample_image"),
        new("eager", "w_400,h_300,c_pad|w_260,h_200,c_crop"),
    ];

    [Fact]
    public void Reproduces_the_documented_example()
    {
        Assert.Equal("eager=w_400,h_300,c_pad|w_260,h_200,c_crop&public_id=sample_image&timestamp=1315060510",
            CloudinarySignature.StringToSign(DocumentedExample));
        Assert.Equal("bfd09f95f331f558cbd1320e67aa8d488770583e", CloudinarySignature.Sign(DocumentedExample, "abcd"));
    }

    [Fact]
    public void Sha256_of_the_documented_example()
    {
        // Computed independently: printf '%s' 'eager=…&timestamp=1315060510abcd' | sha256sum
        Assert.Equal("cc927e1290f9e3ae4c1a741eda21a4630b4ce80f9ce0bc0296337d25cf40f91e",
            CloudinarySignature.Sign(DocumentedExample, "abcd", CloudinarySignatureAlgorithm.Sha256));
    }

    [Fact]
    public void Leaves_out_the_parameters_cloudinary_never_signs_and_empty_ones()
    {
        KeyValuePair<string, string?>[] withExtras =
        [
            .. DocumentedExample,
            new("file", "data:image/png;base64,AAAA"), new("api_key", "1234"), new("cloud_name", "demo"),
            new("resource_type", "image"), new("signature", "x"), new("folder", ""), new("tags", null),
        ];
        Assert.Equal("bfd09f95f331f558cbd1320e67aa8d488770583e", CloudinarySignature.Sign(withExtras, "abcd"));
    }

    [Fact]
    public void Escapes_ampersands_in_values_like_signature_version_2()
    {
        // pycloudinary test_api_sign_request_prevents_parameter_smuggling
        KeyValuePair<string, string?>[] parameters =
        [
            new("timestamp", "1568810420"), new("notification_url", "https://fake.com/callback?a=1&tags=hello,world"),
        ];
        Assert.Equal("notification_url=https://fake.com/callback?a=1%26tags=hello,world&timestamp=1568810420",
            CloudinarySignature.StringToSign(parameters));
    }

    [Theory]
    // pycloudinary test_api_sign_request_sha1 / _sha256 (CloudinaryDotNet SignatureTest)
    [InlineData(CloudinarySignatureAlgorithm.Sha1, "14c00ba6d0dfdedbc86b316847d95b9e6cd46d94")]
    [InlineData(CloudinarySignatureAlgorithm.Sha256, "45ddaa4fa01f0c2826f32f669d2e4514faf275fe6df053f1a150e7beae58a3bd")]
    public void Hashes_the_sdk_test_vectors(CloudinarySignatureAlgorithm algorithm, string expected) =>
        Assert.Equal(expected, CloudinarySignature.Hash(
            "cloud_name=dn6ot3ged&timestamp=1568810420&username=user@cloudinary.comhdcixPpR2iKERPwqvH6sHdK9cyac", algorithm));
}
