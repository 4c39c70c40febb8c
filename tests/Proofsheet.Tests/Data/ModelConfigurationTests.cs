using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;

namespace Proofsheet.Tests.Data;

public sealed class ModelConfigurationTests
{
    /// <summary>
    /// The context applies its entity configurations from a written list (scanning the assembly for them
    /// loads every type of the app, and with them SDKs a default app never needs): the list must hold
    /// every configuration the scan would find, so that a new entity cannot be left out of the model.
    /// </summary>
    [Fact]
    public void The_listed_configurations_are_every_configuration_in_the_data_folder()
    {
        var listed = new ModelBuilder();
        foreach (var configure in AppDbContext.Configurations)
        {
            configure(listed);
        }
        var scanned = new ModelBuilder();
        scanned.ApplyConfigurationsFromAssembly(typeof(AppDbContext).Assembly, t => t.Namespace == typeof(AppDbContext).Namespace);

        static string[] Tables(ModelBuilder b) =>
            [.. b.Model.GetEntityTypes().Select(e => $"{e.Name} -> {e.GetTableName()}").Order(StringComparer.Ordinal)];

        Assert.NotEmpty(Tables(scanned));
        Assert.Equal(Tables(scanned), Tables(listed));
    }
}

public sealed class MigrationsInNamespaceTests
{
    /// <summary>
    /// The app finds its migrations by reading type names from metadata (EF's own lookup loads every
    /// type of the app): it must find exactly what EF's lookup finds, for each provider.
    /// </summary>
    [Theory]
    [InlineData(typeof(SqliteAppDbContext))]
    [InlineData(typeof(PostgresAppDbContext))]
    public void Finds_every_migration_eF_would_find_in_id_order(Type contextType)
    {
        // EF's MigrationsAssembly: every constructible Migration subclass whose [DbContext] names the context.
        var efWould = typeof(AppDbContext).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && t.IsSubclassOf(typeof(Microsoft.EntityFrameworkCore.Migrations.Migration))
                && t.GetCustomAttributes(typeof(Microsoft.EntityFrameworkCore.Infrastructure.DbContextAttribute), false)
                    .Cast<Microsoft.EntityFrameworkCore.Infrastructure.DbContextAttribute>().SingleOrDefault()?.ContextType == contextType)
            .Select(t => (t.GetCustomAttributes(typeof(Microsoft.EntityFrameworkCore.Migrations.MigrationAttribute), false)
                .Cast<Microsoft.EntityFrameworkCore.Migrations.MigrationAttribute>().Single().Id, t.FullName))
            .OrderBy(m => m.Id, StringComparer.Ordinal)
            .ToList();

        var found = MigrationsInNamespace.Find(contextType).Select(m => (m.Key, m.Value.FullName)).ToList();

        Assert.True(efWould.Count >= 12, $"only {efWould.Count} migrations");
        Assert.Equal(efWould, found);
    }
}
