using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Auth;
using Proofsheet.Data;

namespace Proofsheet.People;

/// <summary>
/// People, their sessions and invitations. Everything is read from the database on use (no cache),
/// so a revoked session, a removed person or a changed role holds on every node at once.
/// </summary>
public sealed class PeopleStore(IConfiguration configuration, IDbContextFactory<AppDbContext> dbs, AdminPassword hubPassword, TimeProvider time)
{
    public const string PersonIdClaim = ClaimTypes.NameIdentifier;
    public const string SessionClaim = "sid";
    public const int MinPasswordLength = 10;
    public static readonly TimeSpan InvitationLifetime = TimeSpan.FromDays(7);

    // A hash to verify against when no one matches, so a wrong address takes as long as a wrong password.
    private static readonly string Decoy = AdminPassword.HashPassword(Convert.ToHexString(RandomNumberGenerator.GetBytes(16)));

    /// <summary>The first start makes the first admin, whose password is the Hub password (configured or generated).</summary>
    public async Task InitializeAsync(CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        if (await db.People.AnyAsync(ct))
        {
            return;
        }
        db.People.Add(new Person
        {
            Id = Ids.New(),
            Name = configuration["Auth:AdminName"] is { Length: > 0 } name ? name : "Admin",
            Email = NormalizeEmail(configuration["Auth:AdminEmail"] is { Length: > 0 } email ? email : "admin"),
            Role = Roles.Admin,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another node made the first admin at the same moment (the unique email): theirs stands.
            await using var again = await dbs.CreateDbContextAsync(ct);
            if (!await again.People.AnyAsync(ct))
            {
                throw;
            }
        }
    }

    public static string NormalizeEmail(string email) => email.Trim().ToLowerInvariant();

    /// <summary>The person these credentials open, or null. An empty address means the first admin (as before people existed).</summary>
    public async Task<Person?> VerifyAsync(string? email, string? password, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(password) || password.Length > 1024 || (email?.Length ?? 0) > 320)
        {
            return null;
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        var person = string.IsNullOrWhiteSpace(email)
            ? await db.People.AsNoTracking().Where(p => p.Role == Roles.Admin).OrderBy(p => p.Id).FirstOrDefaultAsync(ct)
            : await db.People.AsNoTracking().SingleOrDefaultAsync(p => p.Email == NormalizeEmail(email), ct);
        if (person is null || person.DisabledAt is not null)
        {
            AdminPassword.VerifyHash(password, Decoy);
            return null;
        }
        var ok = person.PasswordHash is { } hash ? AdminPassword.VerifyHash(password, hash) : hubPassword.Verify(password);
        return ok ? person : null;
    }

    public async Task<string> StartSessionAsync(string personId, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var session = new PersonSession { Id = Ids.New() + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), PersonId = personId, CreatedAt = time.GetUtcNow().UtcDateTime };
        db.Sessions.Add(session);
        await db.SaveChangesAsync(ct);
        return session.Id;
    }

    /// <summary>The person a live session belongs to; null when it was revoked or they were removed.</summary>
    public async Task<Person?> SessionPersonAsync(string? sessionId, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(sessionId) || sessionId.Length > 64)
        {
            return null;
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        return await (from s in db.Sessions.AsNoTracking()
                      join p in db.People.AsNoTracking() on s.PersonId equals p.Id
                      where s.Id == sessionId && s.RevokedAt == null && p.DisabledAt == null
                      select p).SingleOrDefaultAsync(ct);
    }

    public async Task EndSessionAsync(string? sessionId, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(sessionId))
        {
            return;
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        await db.Sessions.Where(s => s.Id == sessionId && s.RevokedAt == null).ExecuteUpdateAsync(u => u.SetProperty(s => s.RevokedAt, now), ct);
    }

    /// <summary>Signs the person out everywhere (but the session named in <paramref name="keep"/>); returns how many ended.</summary>
    public async Task<int> RevokeSessionsAsync(string personId, string? keep, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        return await db.Sessions.Where(s => s.PersonId == personId && s.RevokedAt == null && s.Id != keep)
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.RevokedAt, now), ct);
    }

    public static string? CheckNewPassword(string? password) =>
        password is null || password.Length < MinPasswordLength ? $"The new password needs at least {MinPasswordLength} characters."
        : password.Length > 1024 ? "The new password is too long (at most 1024 characters)."
        : null;

    /// <summary>Changes the password after checking the current one; every other session of theirs ends.</summary>
    public async Task<string?> ChangePasswordAsync(string personId, string? current, string? next, string? keepSession, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var person = await db.People.SingleOrDefaultAsync(p => p.Id == personId, ct);
        if (person is null)
        {
            return "Your account no longer exists.";
        }
        var ok = !string.IsNullOrEmpty(current) && current.Length <= 1024
            && (person.PasswordHash is { } hash ? AdminPassword.VerifyHash(current, hash) : hubPassword.Verify(current));
        if (!ok)
        {
            return "The current password is not right.";
        }
        if (CheckNewPassword(next) is { } problem)
        {
            return problem;
        }
        person.PasswordHash = AdminPassword.HashPassword(next!);
        await db.SaveChangesAsync(ct);
        await RevokeSessionsAsync(personId, keepSession, ct);
        return null;
    }

    public async Task<List<Person>> ListAsync(CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        return await db.People.AsNoTracking().OrderBy(p => p.Id).ToListAsync(ct);
    }

    /// <summary>Invitations not yet used and not expired, newest first.</summary>
    public async Task<List<Invitation>> PendingInvitationsAsync(CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        return await db.Invitations.AsNoTracking().Where(i => i.UsedAt == null && i.ExpiresAt > now).OrderByDescending(i => i.Id).Take(100).ToListAsync(ct);
    }

    /// <summary>Makes an invitation and returns its one-time token (only its hash is kept).</summary>
    public async Task<(string? Token, string? Problem)> InviteAsync(string? name, string? email, string? role, string createdBy, CancellationToken ct)
    {
        name = name?.Trim();
        email = email is null ? null : NormalizeEmail(email);
        if (string.IsNullOrEmpty(name) || name.Length > 100)
        {
            return (null, "Give the person's name (at most 100 characters).");
        }
        if (string.IsNullOrEmpty(email) || email.Length > 254 || !email.Contains('@', StringComparison.Ordinal) || email.Any(char.IsWhiteSpace))
        {
            return (null, "Give an email address such as ada@example.com.");
        }
        if (!Roles.IsValid(role))
        {
            return (null, "Choose a role: admin, editor or reviewer.");
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        if (await db.People.AnyAsync(p => p.Email == email, ct))
        {
            return (null, "Someone with that email address is already on the team.");
        }
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = time.GetUtcNow().UtcDateTime;
        db.Invitations.Add(new Invitation
        {
            Id = Ids.New(), TokenHash = HashToken(token), Name = name, Email = email, Role = role!, CreatedBy = createdBy,
            CreatedAt = now, ExpiresAt = now + InvitationLifetime,
        });
        await db.SaveChangesAsync(ct);
        return (token, null);
    }

    public static string HashToken(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>The invitation a token opens, if it is unused and unexpired.</summary>
    public async Task<Invitation?> OpenInvitationAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 100)
        {
            return null;
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        var hash = HashToken(token);
        var now = time.GetUtcNow().UtcDateTime;
        return await db.Invitations.AsNoTracking().SingleOrDefaultAsync(i => i.TokenHash == hash && i.UsedAt == null && i.ExpiresAt > now, ct);
    }

    /// <summary>Uses the invitation (once: a conditional update, so two tabs cannot both join) and makes the person.</summary>
    public async Task<(Person? Person, string? Problem)> AcceptAsync(string? token, string? password, CancellationToken ct)
    {
        var invitation = await OpenInvitationAsync(token, ct);
        if (invitation is null)
        {
            return (null, "This invitation has expired or was used already. Ask an admin for a new one.");
        }
        if (CheckNewPassword(password) is { } problem)
        {
            return (null, problem);
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        var used = await db.Invitations.Where(i => i.Id == invitation.Id && i.UsedAt == null)
            .ExecuteUpdateAsync(u => u.SetProperty(i => i.UsedAt, now), ct);
        if (used != 1 || await db.People.AnyAsync(p => p.Email == invitation.Email, ct))
        {
            return (null, "This invitation has expired or was used already. Ask an admin for a new one.");
        }
        var person = new Person
        {
            Id = Ids.New(), Name = invitation.Name, Email = invitation.Email, Role = invitation.Role,
            PasswordHash = AdminPassword.HashPassword(password!), CreatedAt = now,
        };
        db.People.Add(person);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return (person, null);
    }

    public async Task<bool> SetRoleAsync(string personId, string role, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        return await db.People.Where(p => p.Id == personId).ExecuteUpdateAsync(u => u.SetProperty(p => p.Role, role), ct) == 1;
    }

    /// <summary>Removes or restores someone's access; removing ends their sessions (their keys stop with them).</summary>
    public async Task<bool> SetDisabledAsync(string personId, bool disabled, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        DateTime? at = disabled ? time.GetUtcNow().UtcDateTime : null;
        var changed = await db.People.Where(p => p.Id == personId).ExecuteUpdateAsync(u => u.SetProperty(p => p.DisabledAt, at), ct) == 1;
        if (changed && disabled)
        {
            await RevokeSessionsAsync(personId, null, ct);
        }
        return changed;
    }

    public async Task SetNotifyAsync(string personId, bool notify, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        await db.People.Where(p => p.Id == personId).ExecuteUpdateAsync(u => u.SetProperty(p => p.NotifyByEmail, notify), ct);
    }

    /// <summary>The claims a request carries for this person: who (for history), which role, which session.</summary>
    public static ClaimsPrincipal Principal(Person person, string scheme, string actor, string? sessionId) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, actor),
                new Claim(PersonIdClaim, person.Id),
                new Claim(ClaimTypes.Role, person.Role),
                new Claim(ClaimTypes.Email, person.Email),
                .. sessionId is null ? Array.Empty<Claim>() : [new Claim(SessionClaim, sessionId)],
            ],
            scheme));
}

public static class PersonClaims
{
    public static string? PersonId(this ClaimsPrincipal user) => user.FindFirstValue(PeopleStore.PersonIdClaim);
    public static string? Role(this ClaimsPrincipal user) => user.FindFirstValue(ClaimTypes.Role);
    public static string? SessionId(this ClaimsPrincipal user) => user.FindFirstValue(PeopleStore.SessionClaim);
}
