namespace Proofsheet.Writing;

public sealed record ArticleRequest(string Topic, string? Tone, string? Audience, int TargetWords);

public sealed record ArticleDraft(string Title, string Excerpt, string Content, string ImagePrompt, string ImageAlt)
{
    public string? MetaDescription { get; init; }
    public IReadOnlyList<string> Keywords { get; init; } = [];
    /// <summary>The model that wrote the draft, as the service named it.</summary>
    public string? Model { get; init; }
    public int? InputTokens { get; init; }
    public int? OutputTokens { get; init; }
}

/// <summary>Turns a topic into a draft. One implementation per backend, chosen by <c>Content:Provider</c>.</summary>
public interface IArticleWriter
{
    /// <summary>The configuration name of this backend (<c>outline</c>, <c>openai</c>, …).</summary>
    string Name { get; }

    /// <param name="textSoFar">Told the article's text so far, as the model writes it (a writer that does not stream
    /// reports nothing); the text is what the reviewer will read, not the JSON around it.</param>
    /// <exception cref="WriterException">The backend answered, but not with a usable draft.</exception>
    Task<ArticleDraft> WriteAsync(ArticleRequest request, IProgress<string>? textSoFar, CancellationToken cancellationToken);
}

public static class ArticleWriters
{
    public static Task<ArticleDraft> WriteAsync(this IArticleWriter writer, ArticleRequest request, CancellationToken cancellationToken) =>
        writer.WriteAsync(request, null, cancellationToken);
}

/// <summary>A writer failure with a message fit to show a reviewer (never a secret).</summary>
public sealed class WriterException(string message, bool retryable = true, Exception? inner = null) : Exception(message, inner)
{
    public bool Retryable { get; } = retryable;
}
