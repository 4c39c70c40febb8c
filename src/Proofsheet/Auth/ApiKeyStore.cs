using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;
using Proofsheet.People;

namespace Proofsheet.Auth;

/// <summary>
/// The API keys that open <c>/api</c>: those in <c>Auth:ApiKeys</c> (the first admin's) and those
/// stored (hashed) in the database, each belonging to a person and acting with that person's role.
/// With neither, one is generated at first start for the first admin, printed once, and stored hashed.
/// Stored keys are looked up on every request, so one made or revoked on any node holds on all.
/// </summary>
public sealed class ApiKeyStore(IConfiguration configuration, IDbContextFactory<AppDbContext> dbs, TimeProvider time, ILogger<ApiKeyStore> logger)
{
    private byte[][] Configured => (configuration["Auth:ApiKeys"] ?? "")
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(Hash).ToArray();

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public static string NewKey() =>
        "ps_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The person a key acts for and the key's label, or null when the key is unknown, revoked, or its person removed.</summary>
    public async Task<(Person Person, string Label)?> FindAsync(string? presented, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > 512)
        {
            return null;
        }
        var hash = Hash(presented);
        // Configured keys: compared in constant time, so timing tells nothing about near misses.
        var configured = false;
        foreach (var known in Configured)
        {
            configured |= CryptographicOperations.FixedTimeEquals(hash, known);
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        string? personId;
        string label;
        if (configured)
        {
            personId = null;
            label = "configured";
        }
        else
        {
            // A lookup by the SHA-256 of a 256-bit key: its timing says nothing an attacker can use.
            var hex = Convert.ToHexStringLower(hash);
            var key = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Hash == hex && k.RevokedAt == null, ct);
            if (key is null)
            {
                return null;
            }
            personId = key.PersonId;
            label = key.Label;
        }
        // Keys from before people (and configured ones) are the first admin's.
        var person = personId is null
            ? await db.People.AsNoTracking().Where(p => p.Role == Roles.Admin).OrderBy(p => p.Id).FirstOrDefaultAsync(ct)
            : await db.People.AsNoTracking().SingleOrDefaultAsync(p => p.Id == personId, ct);
        return person is null || person.DisabledAt is not null ? null : (person, label);
    }

    /// <summary>Makes a key for a person; returns its text, shown once.</summary>
    public async Task<string> CreateAsync(string personId, string label, CancellationToken ct)
    {
        var key = NewKey();
        await using var db = await dbs.CreateDbContextAsync(ct);
        db.ApiKeys.Add(new ApiKey
        {
            Id = Ids.New(), Hash = Convert.ToHexStringLower(Hash(key)), Label = label, PersonId = personId, CreatedAt = time.GetUtcNow().UtcDateTime,
        });
        await db.SaveChangesAsync(ct);
        return key;
    }

    public async Task<List<ApiKey>> ListAsync(string personId, bool includesUnowned, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        return await db.ApiKeys.AsNoTracking()
            .Where(k => k.RevokedAt == null && (k.PersonId == personId || (includesUnowned && k.PersonId == null)))
            .OrderBy(k => k.CreatedAt).ToListAsync(ct);
    }

    public async Task<bool> RevokeAsync(string keyId, string personId, bool includesUnowned, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        return await db.ApiKeys.Where(k => k.Id == keyId && k.RevokedAt == null && (k.PersonId == personId || (includesUnowned && k.PersonId == null)))
            .ExecuteUpdateAsync(u => u.SetProperty(k => k.RevokedAt, now), ct) == 1;
    }

    public async Task InitializeAsync(CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        if (Configured.Length > 0 || await db.ApiKeys.AnyAsync(ct))
        {
            return;
        }
        var founder = await db.People.AsNoTracking().Where(p => p.Role == Roles.Admin).OrderBy(p => p.Id).Select(p => p.Id).FirstOrDefaultAsync(ct);
        var key = NewKey();
        db.ApiKeys.Add(new ApiKey { Id = Ids.New(), Hash = Convert.ToHexStringLower(Hash(key)), Label = "generated", PersonId = founder, CreatedAt = DateTime.UtcNow });
        await db.SaveChangesAsync(ct);
        // Printed once to the console, never to the logs; only its hash is kept.
        Console.WriteLine();
        Console.WriteLine("  Proofsheet generated an API key (shown only this once; set Auth:ApiKeys to use your own):");
        Console.WriteLine($"    {key}");
        Console.WriteLine();
        logger.LogInformation("An API key was generated and printed to the console; only its hash is stored");
    }
}
