using Microsoft.Extensions.Options;

namespace Proofsheet.Writing;

public static class WritingExtensions
{
    public static WebApplicationBuilder AddWriting(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<ContentOptions>(ContentOptions.Section)
            .Validate(o => KnownWriters.Contains(o.Provider.Trim().ToLowerInvariant()),
                $"Content:Provider must be one of: {string.Join(", ", KnownWriters)}.");
        builder.Services.AddSingleton<IArticleWriter, OutlineWriter>();
        builder.Services.AddSingleton(sp =>
        {
            var name = sp.GetRequiredService<IOptions<ContentOptions>>().Value.Provider.Trim();
            return new ActiveWriter(sp.GetServices<IArticleWriter>().First(w => string.Equals(w.Name, name, StringComparison.OrdinalIgnoreCase)));
        });
        return builder;
    }

    /// <summary>The writers that exist; a backend is listed here only once it works.</summary>
    public static readonly string[] KnownWriters = ["outline"];
}

/// <summary>The writer chosen by <c>Content:Provider</c>.</summary>
public sealed record ActiveWriter(IArticleWriter Writer);
