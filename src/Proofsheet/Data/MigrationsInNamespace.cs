using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data;

/// <summary>
/// EF's list of migrations, found without loading every type of the app. EF's own lookup asks the
/// runtime for all the assembly's types, which loads each of them and, through their base types and
/// fields, assemblies a default app never uses (the OpenAI SDK, Polly): start-up time and memory.
/// This reads the type names from the assembly's metadata instead and loads only those under
/// <c>Proofsheet.Data.Migrations</c>; a unit test checks that it finds what EF's lookup finds.
/// </summary>
internal sealed class MigrationsInNamespace(ICurrentDbContext currentContext, IMigrationsIdGenerator ids) : IMigrationsAssembly
{
    internal const string Namespace = "Proofsheet.Data.Migrations";

    private IReadOnlyDictionary<string, TypeInfo>? _migrations;

    public Assembly Assembly => typeof(AppDbContext).Assembly;

    public ModelSnapshot? ModelSnapshot => null;

    public IReadOnlyDictionary<string, TypeInfo> Migrations => _migrations ??= Find(currentContext.Context.GetType());

    public string? FindMigrationId(string nameOrId) =>
        Migrations.Keys.FirstOrDefault(ids.IsValidId(nameOrId)
            ? id => string.Equals(id, nameOrId, StringComparison.OrdinalIgnoreCase)
            : id => string.Equals(ids.GetName(id), nameOrId, StringComparison.OrdinalIgnoreCase));

    public Migration CreateMigration(TypeInfo migrationClass, string activeProvider)
    {
        var migration = (Migration)Activator.CreateInstance(migrationClass.AsType())!;
        migration.ActiveProvider = activeProvider;
        return migration;
    }

    /// <summary>The migrations of <paramref name="contextType"/>, by id in id order (as EF orders them).</summary>
    internal static IReadOnlyDictionary<string, TypeInfo> Find(Type contextType)
    {
        var assembly = typeof(AppDbContext).Assembly;
        var candidates = TypeNamesUnder(assembly) is { } names
            ? names.Select(n => assembly.GetType(n, throwOnError: true)!)
            // No file to read (a single-file app): ask the runtime, as EF would.
            : assembly.GetTypes().Where(t => t.Namespace?.StartsWith(Namespace, StringComparison.Ordinal) == true);
        return candidates
            .Where(t => !t.IsAbstract && t.IsSubclassOf(typeof(Migration)) && t.GetCustomAttribute<DbContextAttribute>()?.ContextType == contextType)
            .Select(t => (Id: t.GetCustomAttribute<MigrationAttribute>()?.Id, Type: t.GetTypeInfo()))
            .Where(m => m.Id is not null)
            .OrderBy(m => m.Id, StringComparer.Ordinal)
            .ToDictionary(m => m.Id!, m => m.Type);
    }

    private static List<string>? TypeNamesUnder(Assembly assembly)
    {
        if (string.IsNullOrEmpty(assembly.Location))
        {
            return null;
        }
        using var pe = new PEReader(File.OpenRead(assembly.Location));
        var metadata = pe.GetMetadataReader();
        var names = new List<string>();
        foreach (var handle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(handle);
            var ns = metadata.GetString(type.Namespace);
            if (ns.StartsWith(Namespace, StringComparison.Ordinal))
            {
                names.Add($"{ns}.{metadata.GetString(type.Name)}");
            }
        }
        return names;
    }
}
