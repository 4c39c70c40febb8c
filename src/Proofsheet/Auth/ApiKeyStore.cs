using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;

namespace Proofsheet.Auth;

/// <summary>
/// The API keys that open <c>/api</c>: those in <c>Auth:ApiKeys</c> and those stored (hashed)
/// in the database. With neither, one is generated at first start, printed once, and stored hashed.
/// </summary>
public sealed class ApiKeyStore(IConfiguration configuration, IDbContextFactory<AppDbContext> dbs, ILogger<ApiKeyStore> logger)
{
    private volatile byte[][] _hashes = [];

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Compares against every known hash in constant time, so timing tells nothing about near misses.</summary>
    public bool IsValid(string? presented)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > 512)
        {
            return false;
        }
        var hash = Hash(presented);
        var match = false;
        foreach (var known in _hashes)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, known);
        }
        return match;
    }

    public async Task InitializeAsync(CancellationToken ct)
    {
        var configured = (configuration["Auth:ApiKeys"] ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Hash);
        await using var db = await dbs.CreateDbContextAsync(ct);
        var stored = await db.ApiKeys.AsNoTracking().Select(k => k.Hash).ToListAsync(ct);
        var hashes = configured.Concat(stored.Select(Convert.FromHexString)).ToArray();
        if (hashes.Length == 0)
        {
            var key = "ps_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            var hash = Hash(key);
            db.ApiKeys.Add(new ApiKey { Id = Ids.New(), Hash = Convert.ToHexStringLower(hash), Label = "generated", CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync(ct);
            hashes = [hash];
            // Printed once to the console, never to the logs; only its hash is kept.
            Console.WriteLine();
            Console.WriteLine("  Proofsheet generated an API key (shown only this once; set Auth:ApiKeys to use your own):");
            Console.WriteLine($"    {key}");
            Console.WriteLine();
            logger.LogInformation("An API key was generated and printed to the console; only its hash is stored");
        }
        _hashes = hashes;
    }
}
