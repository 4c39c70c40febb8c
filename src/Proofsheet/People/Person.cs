namespace Proofsheet.People;

/// <summary>The three roles of the team. What each may do is <see cref="Access"/>, per route.</summary>
public static class Roles
{
    public const string Admin = "admin";
    public const string Editor = "editor";
    public const string Reviewer = "reviewer";

    public static readonly string[] All = [Admin, Editor, Reviewer];

    public static bool IsValid(string? role) => role is Admin or Editor or Reviewer;
}

/// <summary>Someone who signs in to the Hub (and owns API keys).</summary>
public sealed class Person
{
    public required string Id { get; init; }
    public required string Name { get; set; }
    /// <summary>Lower-cased; unique. The first admin's is <c>Auth:AdminEmail</c> (default <c>admin</c>).</summary>
    public required string Email { get; set; }
    public required string Role { get; set; }
    /// <summary>PBKDF2 (see <see cref="Auth.AdminPassword.HashPassword"/>). Null only for the first admin while the
    /// Hub password (<c>Auth:AdminPassword</c> or the generated one) still stands for theirs.</summary>
    public string? PasswordHash { get; set; }
    public bool NotifyByEmail { get; set; } = true;
    public DateTime CreatedAt { get; init; }
    /// <summary>Set when an admin removes the person's access: no session or key of theirs works after.</summary>
    public DateTime? DisabledAt { get; set; }
}

/// <summary>
/// One signed-in browser. The cookie names it; every request checks it here, so signing out
/// everywhere (or an admin's revoke) holds on every node at once.
/// </summary>
public sealed class PersonSession
{
    public required string Id { get; init; }
    public required string PersonId { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime? RevokedAt { get; set; }
}

/// <summary>A one-time link an admin gives someone to join with a role; only the token's SHA-256 is kept.</summary>
public sealed class Invitation
{
    public required string Id { get; init; }
    public required string TokenHash { get; init; }
    public required string Name { get; init; }
    public required string Email { get; init; }
    public required string Role { get; init; }
    public required string CreatedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime ExpiresAt { get; init; }
    public DateTime? UsedAt { get; set; }
}
