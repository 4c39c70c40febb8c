using Proofsheet.Posts;

namespace Proofsheet.Tests;

public sealed class SlugTests
{
    [Theory]
    [InlineData("Making Muffins", "making-muffins")]
    [InlineData("Crème Brûlée", "creme-brulee")]
    [InlineData("  Hello --  World  ", "hello-world")]
    [InlineData("C'est la vie!", "cest-la-vie")]
    [InlineData("Straße & Œuvre", "strasse-oeuvre")]
    [InlineData("10 Tips: For 2024?", "10-tips-for-2024")]
    [InlineData("<script>alert(1)</script>", "scriptalert1script")]
    [InlineData("../../etc/passwd", "etcpasswd")]
    public void Slug_follows_the_spec(string title, string expected) =>
        Assert.Equal(expected, Slug.From(title, "abc"));

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("!!!")]
    [InlineData("日本語")]
    [InlineData(null)]
    public void Slug_is_never_empty(string? title) =>
        Assert.Equal("post-0199abcd", Slug.From(title, "0199ABCD-ef"));

    [Fact]
    public void Slug_is_at_most_80_characters_and_does_not_end_in_a_dash()
    {
        var slug = Slug.From(string.Join(' ', Enumerable.Repeat("word", 40)), "x");
        Assert.True(slug.Length <= Slug.MaxLength);
        Assert.False(slug.EndsWith('-'));
        Assert.StartsWith("word-word", slug, StringComparison.Ordinal);
    }

    [Fact]
    public void Suffix_keeps_the_limit()
    {
        Assert.Equal("making-muffins-2", Slug.WithSuffix("making-muffins", 2));
        var longSlug = new string('a', 80);
        var suffixed = Slug.WithSuffix(longSlug, 12);
        Assert.Equal(80, suffixed.Length);
        Assert.EndsWith("-12", suffixed, StringComparison.Ordinal);
    }
}
