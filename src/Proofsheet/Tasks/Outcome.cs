namespace Proofsheet.Tasks;

public enum OutcomeKind
{
    Ok,
    NotFound,
    Conflict,
    Invalid,
}

/// <summary>What a reviewer's action came to: done, or why not (not-found, conflict and invalid are values, not exceptions).</summary>
public sealed record Outcome(OutcomeKind Kind, string? Detail = null, string? Field = null)
{
    public static readonly Outcome Done = new(OutcomeKind.Ok);
    public static Outcome NotFound(string detail) => new(OutcomeKind.NotFound, detail);
    public static Outcome Conflict(string detail) => new(OutcomeKind.Conflict, detail);
    public static Outcome Invalid(string field, string detail) => new(OutcomeKind.Invalid, detail, field);
}

/// <summary>Which candidate a request means: by id, or by the task's variation number.</summary>
public sealed record ImageChoice(string? ImageId, int? Index)
{
    public bool IsEmpty => ImageId is null && Index is null;
}

public sealed record TaskEdits(string? Title, string? Excerpt, string? Content, string? ImagePrompt, string? ImageAlt, string? Slug = null, string? MetaDescription = null);

/// <summary>
/// A short fingerprint of a draft's editable text. A form carries the stamp of the draft it was
/// drawn from, so a save can tell whether someone else saved in between (the row's own version
/// also moves while images are generated, which must not make a form stale).
/// </summary>
public static class DraftStamp
{
    public const string StaleField = "draft_stamp";

    public static string Of(ContentTask t) => Of(t.Title, t.Excerpt, t.Content, t.ImagePrompt, t.ImageAlt);

    public static string Of(TaskResponse t) => Of(t.Title, t.Excerpt, t.Content, t.ImagePrompt, t.ImageAlt);

    private static string Of(params string?[] parts) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(string.Join('\u001f', parts.Select(p => p ?? "")))))[..16];
}
